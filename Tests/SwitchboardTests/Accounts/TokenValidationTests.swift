import Crypto
import Foundation
import Testing

/// Builds compact JWTs by hand, so that tests can make every kind of bad token.
enum JWT {
    static func b64(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func b64(json object: [String: Any]) -> String {
        b64(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func eddsa(_ claims: [String: Any], key: Curve25519.Signing.PrivateKey, header: [String: Any]) throws -> String {
        let input = b64(json: header) + "." + b64(json: claims)
        return input + "." + b64(try key.signature(for: Data(input.utf8)))
    }

    static func es256(_ claims: [String: Any], key: P256.Signing.PrivateKey, kid: String) throws -> String {
        let input = b64(json: ["alg": "ES256", "typ": "JWT", "kid": kid]) + "." + b64(json: claims)
        return input + "." + b64(try key.signature(for: Data(input.utf8)).rawRepresentation)
    }

    static func decode(_ base64URL: some StringProtocol) -> Data {
        var base64 = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64) ?? Data()
    }

    /// Part `index` of a compact JWT (0 header, 1 claims) as a JSON object.
    static func part(_ index: Int, of token: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: decode(token.split(separator: ".")[index]))) as? [String: Any] ?? [:]
    }

    static func claims(of token: String) -> [String: Any] { part(1, of: token) }
}

@Suite("Access token validation")
struct TokenValidationTests {
    /// The server's own header for a token, so that only the part under test differs.
    func header(_ app: TestApp, _ token: String) -> [String: Any] { JWT.part(0, of: token) }

    @Test("A token re-signed by the server's key with unchanged claims is accepted (the forging helper is sound)")
    func control() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let forged = try JWT.eddsa(JWT.claims(of: tokens.access), key: app.signingKey, header: header(app, tokens.access))
            #expect(try await app.me(forged).status == 200)
        }
    }

    @Test("The Authorization header: the Bearer scheme in any case, spaces before the token; anything else is invalid_token")
    func headerForms() async throws {
        try await TestApp.run { app in
            let token = try await app.signup().access
            for accepted in ["Bearer \(token)", "bearer \(token)", "BEARER   \(token)"] {
                let reply = try await app.request(.get, "/api/v1/auth/me", headers: [.authorization: accepted])
                #expect(reply.status == 200, "\(accepted.prefix(12)): \(reply.text)")
            }
            for refused in ["Bearer", "Bearer ", "Bearerx \(token)", "Bear \(token)", "Token \(token)", token, "Bearer\t\(token)"] {
                let reply = try await app.request(.get, "/api/v1/auth/me", headers: [.authorization: refused])
                #expect(reply.status == 401 && reply.code == "invalid_token", "\(refused.prefix(12)): \(reply.text)")
            }
        }
    }

    @Test("Signed ids that are no UUIDs are refused; upper-case ids name the same session; a token kept verified still ends with its session")
    func claimIDs() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let claims = JWT.claims(of: tokens.access)
            let head = header(app, tokens.access)
            for (claim, value) in [("sub", "not-a-uuid"), ("sid", "not-a-uuid"), ("sub", ""), ("sid", String(repeating: "g", count: 36))] {
                var bad = claims
                bad[claim] = value
                let reply = try await app.me(try JWT.eddsa(bad, key: app.signingKey, header: head))
                #expect(reply.status == 401, "\(claim) = \(value)")
                #expect(reply.code == "invalid_token", "\(claim) = \(value)")
            }
            var upper = claims
            upper["sub"] = (claims["sub"] as? String)?.uppercased()
            upper["sid"] = (claims["sid"] as? String)?.uppercased()
            let upperToken = try JWT.eddsa(upper, key: app.signingKey, header: head)
            for _ in 0..<2 {  // verified, then found among the verified tokens
                let reply = try await app.me(upperToken)
                #expect(reply.status == 200)
                #expect(reply["id"] as? String == tokens.userID)
            }
            #expect(try await app.request(.post, "/api/v1/auth/logout", token: tokens.access).status == 204)
            #expect(try await app.me(upperToken).code == "session_revoked")
            #expect(try await app.me(tokens.access).code == "session_revoked")
        }
    }

    @Test("Tampered, alg:none, wrong-audience, wrong-issuer, foreign-key and expired tokens are rejected")
    func rejected() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let claims = JWT.claims(of: tokens.access)
            let head = header(app, tokens.access)
            #expect(try await app.me(tokens.access).status == 200)

            // Tampered: another user's id in the payload, original signature.
            var parts = tokens.access.split(separator: ".").map(String.init)
            var tamperedClaims = claims
            tamperedClaims["sub"] = UUID().uuidString.lowercased()
            parts[1] = JWT.b64(json: tamperedClaims)
            let tampered = try await app.me(parts.joined(separator: "."))
            #expect(tampered.status == 401)
            #expect(tampered.code == "invalid_token")
            #expect(tampered.headers[.wwwAuthenticate]?.contains("invalid_token") == true)

            // alg: none, no signature.
            let none = JWT.b64(json: ["alg": "none", "typ": "JWT"]) + "." + JWT.b64(json: claims) + "."
            #expect(try await app.me(none).code == "invalid_token")
            var noneHeader = head
            noneHeader["alg"] = "none"
            #expect(try await app.me(JWT.b64(json: noneHeader) + "." + JWT.b64(json: claims) + ".").code == "invalid_token")

            // Right key, wrong audience or issuer.
            var wrongAudience = claims
            wrongAudience["aud"] = "another-app"
            #expect(try await app.me(try JWT.eddsa(wrongAudience, key: app.signingKey, header: head)).code == "invalid_token")
            var wrongIssuer = claims
            wrongIssuer["iss"] = "someone-else"
            #expect(try await app.me(try JWT.eddsa(wrongIssuer, key: app.signingKey, header: head)).code == "invalid_token")

            // Same claims, signed by another key.
            let foreign = try JWT.eddsa(claims, key: Curve25519.Signing.PrivateKey(), header: head)
            #expect(try await app.me(foreign).code == "invalid_token")

            // Garbage.
            #expect(try await app.me("not.a.jwt").code == "invalid_token")
            let basic = try await app.request(.get, "/api/v1/auth/me", headers: [.authorization: "Basic dXNlcjpwYXNz"])
            #expect(basic.status == 401)

            // Expired: 15 minutes later.
            app.clock.advance(seconds: 901)
            let expired = try await app.me(tokens.access)
            #expect(expired.status == 401)
            #expect(expired.code == "token_expired")
        }
    }

    @Test("A token still verifies after the server restarts with the same data directory (key kept on disk, 0600)")
    func keyPersists() async throws {
        var (settings, _) = try await TestApp.settings()
        settings.jwtPrivateKey = nil
        let logger = TestDatabase.logger
        let first = try await App.Switchboard.build(settings: settings, logger: logger)
        let kid = first.accounts.tokens.signingKey.kid
        await first.close()
        let attributes = try FileManager.default.attributesOfItem(atPath: settings.signingKeyPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let second = try await App.Switchboard.build(settings: settings, logger: logger)
        #expect(second.accounts.tokens.signingKey.kid == kid)
        await second.close()
    }
}

import App
