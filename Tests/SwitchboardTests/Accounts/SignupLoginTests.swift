import Foundation
import Testing

@Suite("Signup and login")
struct SignupLoginTests {
    @Test("Signup answers 201 with tokens and the user; the email is trimmed and lowercased")
    func signup() async throws {
        try await TestApp.run { app in
            let reply = try await app.request(.post, "/api/v1/auth/signup",
                                              json: ["email": "  Ada@Example.COM ", "password": "12345678", "name": "Ada"])
            #expect(reply.status == 201)
            #expect(reply["token_type"] as? String == "bearer")
            #expect((reply["expires_in"] as? Int).map { (890...900).contains($0) } == true)
            #expect(reply["expires_at"] is String)
            let user = try #require(reply["user"] as? [String: Any])
            #expect(user["email"] as? String == "ada@example.com")
            #expect(user["name"] as? String == "Ada")
            #expect(user["tier"] as? String == app.settings.accounts.defaultTier)
            let tokens = Tokens(reply)
            #expect(tokens.refresh.hasPrefix("sbr_"))
            let me = try await app.me(tokens.access)
            #expect(me.status == 200)
            #expect(me["id"] as? String == tokens.userID)
            #expect(me["email"] as? String == "ada@example.com")
            #expect(me["created_at"] is String)
        }
    }

    @Test("A taken email answers 409, whatever its case and spacing")
    func duplicateEmail() async throws {
        try await TestApp.run { app in
            _ = try await app.signup("dup@example.com")
            let reply = try await app.request(.post, "/api/v1/auth/signup", json: ["email": " DUP@example.com", "password": "12345678"])
            #expect(reply.status == 409)
            #expect(reply.code == "email_taken")
        }
    }

    @Test("Passwords must be 8 to 1024 characters; emails must be addresses; fields are listed")
    func validation() async throws {
        try await TestApp.run { app in
            let short = try await app.request(.post, "/api/v1/auth/signup", json: ["email": "a@example.com", "password": "1234567"])
            #expect(short.status == 400)
            #expect(short.code == "validation_failed")
            #expect(short.fieldErrors["password"] == "invalid_length")

            let long = try await app.request(.post, "/api/v1/auth/signup",
                                             json: ["email": "b@example.com", "password": String(repeating: "x", count: 1025)])
            #expect(long.fieldErrors["password"] == "invalid_length")
            let longest = try await app.request(.post, "/api/v1/auth/signup",
                                                json: ["email": "c@example.com", "password": String(repeating: "é", count: 1024)])
            #expect(longest.status == 201)

            let both = try await app.request(.post, "/api/v1/auth/signup", json: ["email": "not-an-email", "password": "1"])
            #expect(both.fieldErrors == ["email": "invalid_email", "password": "invalid_length"])

            let missing = try await app.request(.post, "/api/v1/auth/signup", json: ["email": "d@example.com"])
            #expect(missing.status == 400)
            #expect(missing.fieldErrors["password"] == "required")

            let extra = try await app.request(.post, "/api/v1/auth/signup",
                                              json: ["email": "e@example.com", "password": "12345678", "tier": "team"])
            #expect(extra.status == 400)
            #expect(extra.fieldErrors["tier"] == "unknown_field")
        }
    }

    @Test("All characters of a long password count (no 72-byte bcrypt truncation)")
    func longPasswordsAreNotTruncated() async throws {
        try await TestApp.run { app in
            let password = String(repeating: "a", count: 100) + "1"
            let tokens = try await app.signup(password: password)
            #expect(try await app.login(tokens.email, password: password).status == 200)
            #expect(try await app.login(tokens.email, password: String(repeating: "a", count: 100) + "2").status == 401)
        }
    }

    @Test("Unknown email and wrong password give the same 401")
    func invalidCredentials() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let ok = try await app.login(tokens.email.uppercased())
            #expect(ok.status == 200)
            #expect(Tokens(ok).userID == tokens.userID)

            let wrong = try await app.login(tokens.email, password: "wrong password")
            let unknown = try await app.login("nobody@example.com", password: "wrong password")
            #expect(wrong.status == 401)
            #expect(unknown.status == 401)
            #expect(wrong.code == "invalid_credentials")
            #expect(unknown.code == "invalid_credentials")
            #expect(wrong["detail"] as? String == unknown["detail"] as? String)
        }
    }

    @Test("An unknown email still costs a full bcrypt verification, like a wrong password")
    func unknownEmailCostsABcryptCheck() async throws {
        // Not a speed measurement but a floor: one bcrypt check at cost 12 takes well over 100 ms on any current CPU,
        // while the path without the dummy check answers in about a millisecond. Load can only make the login
        // slower, so the floor never fails a correct server.
        try await TestApp.run(customize: { $0.accounts.bcryptCost = 12 }) { app in
            _ = try await app.login("warmup@example.com", password: "x") // the dummy hash is computed once
            let start = ContinuousClock.now
            let reply = try await app.login("nobody@example.com", password: "wrong password")
            let elapsed = ContinuousClock.now - start
            #expect(reply.code == "invalid_credentials")
            #expect(elapsed > .milliseconds(50), "an unknown email answered in \(elapsed): no bcrypt check was made")
        }
    }

    @Test("The OAuth2 token endpoint takes the password and refresh_token grants")
    func tokenEndpoint() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let password = try await app.form("/api/v1/auth/token",
                                              ["grant_type": "password", "username": tokens.email, "password": "correct horse battery"])
            #expect(password.status == 200)
            #expect(password["token_type"] as? String == "bearer")

            let refreshed = try await app.form("/api/v1/auth/token",
                                               ["grant_type": "refresh_token", "refresh_token": Tokens(password).refresh])
            #expect(refreshed.status == 200)
            #expect(try await app.me(Tokens(refreshed).access).status == 200)

            let wrong = try await app.form("/api/v1/auth/token",
                                           ["grant_type": "password", "username": tokens.email, "password": "nope nope"])
            #expect(wrong.status == 401)
            #expect(wrong["error"] as? String == "invalid_grant")
            #expect(wrong.headers[.contentType] == "application/problem+json")

            let incomplete = try await app.form("/api/v1/auth/token", ["grant_type": "password", "username": tokens.email])
            #expect(incomplete.status == 400)
            #expect(incomplete["error"] as? String == "invalid_request")
            #expect(incomplete.fieldErrors["password"] == "required")

            let unsupported = try await app.form("/api/v1/auth/token", ["grant_type": "client_credentials"])
            #expect(unsupported.status == 400)
        }
    }

    @Test("Admin-created users get the tier they were given")
    func adminCreate() async throws {
        try await TestApp.run { app in
            let user = try await app.server.accounts.createUser(email: "Boss@Example.com", password: "12345678", name: nil, tier: "pro")
            #expect(user.tier == "pro")
            let login = try await app.login("boss@example.com", password: "12345678")
            #expect((login["user"] as? [String: Any])?["tier"] as? String == "pro")
            await #expect(throws: (any Error).self) {
                try await app.server.accounts.createUser(email: "x@example.com", password: "12345678", name: nil, tier: "platinum")
            }
        }
    }
}
