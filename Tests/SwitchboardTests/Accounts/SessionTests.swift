import Foundation
import Testing

@Suite("Logout and sessions")
struct SessionTests {
    @Test("Logout (local) kills the session's access token at once, and its refresh token")
    func logoutLocal() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let other = Tokens(try await app.login(tokens.email))
            let reply = try await app.request(.post, "/api/v1/auth/logout", token: tokens.access)
            #expect(reply.status == 204)
            let me = try await app.me(tokens.access)
            #expect(me.status == 401)
            #expect(me.code == "session_revoked")
            #expect(try await app.refresh(tokens.refresh).status == 401)
            #expect(try await app.me(other.access).status == 200)
        }
    }

    @Test("Logout global ends every session; others ends all but the current one")
    func logoutScopes() async throws {
        try await TestApp.run { app in
            let a = try await app.signup()
            let b = Tokens(try await app.login(a.email))
            let c = Tokens(try await app.login(a.email))

            #expect(try await app.request(.post, "/api/v1/auth/logout", json: ["scope": "others"], token: a.access).status == 204)
            #expect(try await app.me(a.access).status == 200)
            #expect(try await app.me(b.access).status == 401)
            #expect(try await app.me(c.access).status == 401)

            let d = Tokens(try await app.login(a.email))
            #expect(try await app.request(.post, "/api/v1/auth/logout", json: ["scope": "global"], token: d.access).status == 204)
            #expect(try await app.me(a.access).status == 401)
            #expect(try await app.me(d.access).status == 401)

            let bad = try await app.request(.post, "/api/v1/auth/logout", json: ["scope": "everything"], token: a.access)
            #expect(bad.status == 401) // a's session is over: authentication fails before the body matters
            let e = Tokens(try await app.login(a.email))
            let invalid = try await app.request(.post, "/api/v1/auth/logout", json: ["scope": "everything"], token: e.access)
            #expect(invalid.status == 400)
            #expect(invalid.fieldErrors["scope"] == "invalid_value")
        }
    }

    @Test("Logout needs an access token")
    func logoutUnauthenticated() async throws {
        try await TestApp.run { app in
            let reply = try await app.request(.post, "/api/v1/auth/logout")
            #expect(reply.status == 401)
            #expect(reply.code == "unauthorized")
        }
    }

    @Test("Sessions list the caller's live sessions, newest first, marking the current one")
    func listSessions() async throws {
        try await TestApp.run { app in
            let first = try await app.signup()
            app.clock.advance(seconds: 1)
            let second = Tokens(try await app.login(first.email, headers: [.userAgent: "tests/1.0"]))
            _ = try await app.signup() // someone else's session: never listed

            let reply = try await app.request(.get, "/api/v1/auth/sessions", token: second.access)
            #expect(reply.status == 200)
            #expect(reply["total"] as? Int == 2)
            #expect(reply["page"] as? Int == 1)
            #expect(reply["per_page"] as? Int == 20)
            let items = try #require(reply["items"] as? [[String: Any]])
            #expect(items.count == 2)
            #expect(items[0]["current"] as? Bool == true)
            #expect(items[0]["user_agent"] as? String == "tests/1.0")
            #expect(items[1]["current"] as? Bool == false)

            let paged = try await app.request(.get, "/api/v1/auth/sessions?per_page=1&page=2", token: second.access)
            #expect((paged["items"] as? [[String: Any]])?.count == 1)
            #expect(paged["total"] as? Int == 2)
            let tooMany = try await app.request(.get, "/api/v1/auth/sessions?per_page=101", token: second.access)
            #expect(tooMany.status == 400)
            #expect(tooMany.fieldErrors["per_page"] == "out_of_range")
        }
    }

    @Test("Deleting a session ends it; another user's session id answers 404 and stays alive")
    func deleteSession() async throws {
        try await TestApp.run { app in
            let alice = try await app.signup()
            let aliceOther = Tokens(try await app.login(alice.email))
            let bob = try await app.signup()

            let list = try await app.request(.get, "/api/v1/auth/sessions", token: alice.access)
            let ids = (list["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            let otherID = try #require((list["items"] as? [[String: Any]])?.first { $0["current"] as? Bool == false }?["id"] as? String)
            #expect(ids.count == 2)

            let stolen = try await app.request(.delete, "/api/v1/auth/sessions/\(otherID)", token: bob.access)
            #expect(stolen.status == 404)
            #expect(stolen.code == "not_found")
            #expect(try await app.me(aliceOther.access).status == 200)

            #expect(try await app.request(.delete, "/api/v1/auth/sessions/\(otherID)", token: alice.access).status == 204)
            #expect(try await app.me(aliceOther.access).status == 401)
            #expect(try await app.request(.delete, "/api/v1/auth/sessions/\(otherID)", token: alice.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/auth/sessions/not-a-uuid", token: alice.access).status == 404)
        }
    }
}
