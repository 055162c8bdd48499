import Crypto
import Foundation
import Testing

@Suite("Health, readiness, contract and keys")
struct SystemRoutesTests {
    @Test("/health answers status and version; /ready checks the database")
    func health() async throws {
        try await TestApp.run { app in
            let health = try await app.request(.get, "/health")
            #expect(health.status == 200)
            #expect(health["status"] as? String == "ok")
            #expect(health["version"] as? String == "0.1.0")
            let ready = try await app.request(.get, "/ready")
            #expect(ready.status == 200)
            #expect(ready["database"] as? String == TestDatabase.engine.rawValue)

            try await app.server.database.close()
            let down = try await app.request(.get, "/ready")
            #expect(down.status == 503)
            #expect(down.code == "database_unavailable")
            #expect(down.headers[.retryAfter] != nil)
        }
    }

    @Test("/openapi.json serves the contract; /docs renders it without any external resource")
    func contract() async throws {
        try await TestApp.run { app in
            let spec = try await app.request(.get, "/openapi.json")
            #expect(spec.status == 200)
            #expect(spec["openapi"] as? String == "3.1.0")
            let paths = try #require(spec["paths"] as? [String: Any])
            for path in ["/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/refresh",
                         "/api/v1/auth/logout", "/api/v1/auth/me", "/api/v1/auth/sessions", "/api/v1/auth/sessions/{id}",
                         "/api/v1/user/profile", "/api/v1/user/change-password", "/health", "/ready", "/.well-known/jwks.json"] {
                #expect(paths[path] != nil, "missing \(path)")
            }
            let docs = try await app.request(.get, "/docs")
            #expect(docs.status == 200)
            #expect(docs.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(docs.text.contains("/openapi.json"))
            #expect(!docs.text.contains("https://"), "the docs page must not load anything from the network")
        }
    }

    @Test("The JWKS publishes the key that verifies issued access tokens")
    func jwks() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let jwks = try await app.request(.get, "/.well-known/jwks.json")
            let key = try #require((jwks["keys"] as? [[String: Any]])?.first)
            #expect(key["kty"] as? String == "OKP")
            #expect(key["alg"] as? String == "EdDSA")
            #expect(key["d"] == nil, "no private material")
            let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: JWT.decode(key["x"] as? String ?? ""))
            let parts = tokens.access.split(separator: ".").map(String.init)
            #expect(publicKey.isValidSignature(JWT.decode(parts[2]), for: Data((parts[0] + "." + parts[1]).utf8)))
            #expect(key["kid"] as? String == app.server.accounts.tokens.signingKey.kid)
        }
    }
}
