import Foundation
import Testing

@Suite("Profile and password")
struct ProfileTests {
    @Test("Profile updates the name; null clears it; unknown fields are rejected and never applied")
    func profile() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup(name: "Old")
            let renamed = try await app.request(.put, "/api/v1/user/profile", json: ["name": "  New Name "], token: tokens.access)
            #expect(renamed.status == 200)
            #expect(renamed["name"] as? String == "New Name")
            #expect(try await app.me(tokens.access)["name"] as? String == "New Name")

            for field in ["tier", "id", "email"] {
                let reply = try await app.request(.put, "/api/v1/user/profile", json: ["name": "Hacker", field: "team"], token: tokens.access)
                #expect(reply.status == 400)
                #expect(reply.fieldErrors[field] == "unknown_field")
            }
            let me = try await app.me(tokens.access)
            #expect(me["tier"] as? String == app.settings.accounts.defaultTier)
            #expect(me["name"] as? String == "New Name")
            #expect(me["email"] as? String == tokens.email)

            let tooLong = try await app.request(.put, "/api/v1/user/profile", json: ["name": String(repeating: "n", count: 201)], token: tokens.access)
            #expect(tooLong.fieldErrors["name"] == "too_long")

            let cleared = try await app.request(.put, "/api/v1/user/profile", json: ["name": NSNull()], token: tokens.access)
            #expect(cleared.status == 200)
            #expect(cleared["name"] == nil || cleared["name"] is NSNull)

            #expect(try await app.request(.put, "/api/v1/user/profile", json: ["name": "x"]).status == 401)
        }
    }

    @Test("Changing the password revokes every other session and keeps this one")
    func changePassword() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let other = Tokens(try await app.login(tokens.email))

            let wrong = try await app.request(.post, "/api/v1/user/change-password",
                                              json: ["current_password": "not it at all", "new_password": "new password 1"], token: tokens.access)
            #expect(wrong.status == 400)
            #expect(wrong.code == "invalid_current_password")
            #expect(try await app.me(other.access).status == 200)

            let short = try await app.request(.post, "/api/v1/user/change-password",
                                              json: ["current_password": "correct horse battery", "new_password": "short"], token: tokens.access)
            #expect(short.fieldErrors["new_password"] == "invalid_length")

            let extra = try await app.request(.post, "/api/v1/user/change-password",
                                              json: ["current_password": "correct horse battery", "new_password": "new password 1", "tier": "pro"],
                                              token: tokens.access)
            #expect(extra.fieldErrors["tier"] == "unknown_field")

            let ok = try await app.request(.post, "/api/v1/user/change-password",
                                           json: ["current_password": "correct horse battery", "new_password": "new password 1"], token: tokens.access)
            #expect(ok.status == 204)
            #expect(try await app.me(tokens.access).status == 200)
            #expect(try await app.me(other.access).status == 401)
            #expect(try await app.refresh(other.refresh).status == 401)
            #expect(try await app.login(tokens.email).status == 401)
            #expect(try await app.login(tokens.email, password: "new password 1").status == 200)
        }
    }
}
