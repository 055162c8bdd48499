import Crypto
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// A fake identity provider: a JWKS endpoint on 127.0.0.1 whose keys a test can rotate.
final class FakeIdentityProvider: Sendable {
    let keys = Mutex<[(kid: String, key: P256.Signing.PrivateKey)]>([("key-1", P256.Signing.PrivateKey())])
    let fetches = Mutex(0)
    static let issuer = "https://idp.example.com/auth/v1"
    static let audience = "authenticated"

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/.well-known/jwks.json") { _, _ -> Response in
            self.fetches.withLock { $0 += 1 }
            let jwks = self.keys.withLock { keys in
                keys.map { entry -> [String: String] in
                    let raw = entry.key.publicKey.rawRepresentation // x || y
                    return ["kty": "EC", "crv": "P-256", "kid": entry.kid, "alg": "ES256", "use": "sig",
                            "x": JWT.b64(raw.prefix(32)), "y": JWT.b64(raw.suffix(32))]
                }
            }
            let body = try JSONSerialization.data(withJSONObject: ["keys": jwks])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        return router
    }

    func token(subject: String, email: String? = nil, issuer: String = issuer, audience: Any = audience,
               expiresIn: TimeInterval = 3600, kid: String? = nil) throws -> String {
        let (keyID, key) = keys.withLock { keys in kid.flatMap { k in keys.first { $0.kid == k } } ?? keys.last! }
        var claims: [String: Any] = ["sub": subject, "iss": issuer, "aud": audience, "role": "authenticated",
                                     "iat": Int(Date().timeIntervalSince1970), "exp": Int(Date().timeIntervalSince1970 + expiresIn)]
        if let email { claims["email"] = email }
        return try JWT.es256(claims, key: key, kid: keyID)
    }
}

@Suite("External identity provider")
struct ExternalIdentityTests {
    func withProvider(_ body: @Sendable (TestApp, FakeIdentityProvider) async throws -> Void) async throws {
        let idp = FakeIdentityProvider()
        let server = try await FakeServer.start(idp.router())
        do {
            try await TestApp.run(customize: {
                $0.accounts.mode = .external
                $0.accounts.external = .init(jwksURL: server.baseURL + "/.well-known/jwks.json",
                                             issuer: FakeIdentityProvider.issuer, audience: FakeIdentityProvider.audience,
                                             jwksMinRefreshSeconds: 0)
            }) { app in try await body(app, idp) }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("A provider's token is accepted; the user is created on first sight of its subject, once")
    func firstSight() async throws {
        try await withProvider { app, idp in
            let token = try idp.token(subject: "supabase-user-1", email: "Sub@Example.com")
            let me = try await app.me(token)
            #expect(me.status == 200)
            #expect(me["email"] as? String == "sub@example.com")
            #expect(me["tier"] as? String == app.settings.accounts.defaultTier)
            let again = try await app.me(try idp.token(subject: "supabase-user-1"))
            #expect(again["id"] as? String == me["id"] as? String)
            let other = try await app.me(try idp.token(subject: "supabase-user-2"))
            #expect(other["id"] as? String != me["id"] as? String)
            // The JWKS was fetched once and cached.
            #expect(idp.fetches.withLock { $0 } == 1)

            // A UUID subject (Supabase's) is the user's id, so the frontend's user id and the server's agree; a
            // second subject naming an id already taken gets an id of its own.
            let subject = UUID().uuidString.lowercased()
            let supabase = try await app.me(try idp.token(subject: subject.uppercased()))
            #expect(supabase.status == 200 && supabase["id"] as? String == subject, "\(supabase.text)")
            let taken = try await app.me(try idp.token(subject: subject))
            #expect(taken.status == 200 && taken["id"] as? String != subject, "\(taken.text)")
        }
    }

    @Test("Wrong issuer, wrong audience, expired, foreign-key, HS256 and none tokens are rejected")
    func rejected() async throws {
        try await withProvider { app, idp in
            #expect(try await app.me(try idp.token(subject: "u", issuer: "https://evil.example.com")).code == "invalid_token")
            #expect(try await app.me(try idp.token(subject: "u", audience: "other-app")).code == "invalid_token")
            #expect(try await app.me(try idp.token(subject: "u", audience: ["other-app", FakeIdentityProvider.audience])).status == 200)
            #expect(try await app.me(try idp.token(subject: "u", expiresIn: -3600)).code == "token_expired")
            let foreign = try JWT.es256(["sub": "u", "iss": FakeIdentityProvider.issuer, "aud": FakeIdentityProvider.audience,
                                         "exp": Int(Date().timeIntervalSince1970) + 3600],
                                        key: P256.Signing.PrivateKey(), kid: "key-1")
            #expect(try await app.me(foreign).code == "invalid_token")
            // Algorithm confusion: an HMAC "signed" with the public key, and alg none.
            let claims = JWT.b64(json: ["sub": "u", "iss": FakeIdentityProvider.issuer, "aud": FakeIdentityProvider.audience,
                                        "exp": Int(Date().timeIntervalSince1970) + 3600])
            let hsInput = JWT.b64(json: ["alg": "HS256", "kid": "key-1"]) + "." + claims
            let mac = HMAC<SHA256>.authenticationCode(for: Data(hsInput.utf8), using: SymmetricKey(data: Data("key-1".utf8)))
            #expect(try await app.me(hsInput + "." + JWT.b64(Data(mac))).code == "invalid_token")
            #expect(try await app.me(JWT.b64(json: ["alg": "none"]) + "." + claims + ".").code == "invalid_token")
        }
    }

    @Test("An unknown kid makes the server fetch the keys again (key rotation)")
    func rotation() async throws {
        try await withProvider { app, idp in
            #expect(try await app.me(try idp.token(subject: "u")).status == 200)
            idp.keys.withLock { $0.append(("key-2", P256.Signing.PrivateKey())) }
            let rotated = try await app.me(try idp.token(subject: "u", kid: "key-2"))
            #expect(rotated.status == 200)
            #expect(idp.fetches.withLock { $0 } == 2)
        }
    }

    @Test("Built-in signup, login and sessions answer 404 in external mode")
    func builtinDisabled() async throws {
        try await withProvider { app, idp in
            let signup = try await app.request(.post, "/api/v1/auth/signup", json: ["email": "a@example.com", "password": "12345678"])
            #expect(signup.status == 404)
            #expect(try await app.login("a@example.com").status == 404)
            #expect(try await app.refresh("sbr_x").status == 404)
            let token = try idp.token(subject: "u")
            #expect(try await app.request(.get, "/api/v1/auth/sessions", token: token).status == 404)
            #expect(try await app.request(.put, "/api/v1/user/profile", json: ["name": "Sam"], token: token)["name"] as? String == "Sam")
        }
    }
}
