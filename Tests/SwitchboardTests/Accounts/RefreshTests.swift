import Foundation
import Testing

@Suite("Refresh tokens")
struct RefreshTests {
    @Test("Refresh rotates: new tokens for the same session, and the old refresh token stops working")
    func rotation() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let reply = try await app.refresh(tokens.refresh)
            #expect(reply.status == 200)
            let next = Tokens(reply)
            #expect(next.refresh != tokens.refresh)
            #expect(next.access != tokens.access)
            #expect(next.userID == tokens.userID)
            #expect(try await app.me(next.access).status == 200)
        }
    }

    @Test("Replaying a used refresh token revokes the whole session: refresh 3 times, replay the first, all fail")
    func reuseRevokesFamily() async throws {
        try await TestApp.run { app in
            let first = try await app.signup()
            var current = first
            for _ in 0..<3 {
                let reply = try await app.refresh(current.refresh)
                try #require(reply.status == 200)
                current = Tokens(reply)
            }
            #expect(try await app.me(current.access).status == 200)

            let replay = try await app.refresh(first.refresh)
            #expect(replay.status == 401)
            #expect(replay.code == "refresh_token_reused")

            let latest = try await app.refresh(current.refresh)
            #expect(latest.status == 401)
            #expect(latest.code == "invalid_refresh_token")
            let me = try await app.me(current.access)
            #expect(me.status == 401)
            #expect(me.code == "session_revoked")
            #expect(try await app.me(first.access).status == 401)
        }
    }

    @Test("Concurrent refreshes of one token: exactly one wins")
    func concurrentRefresh() async throws {
        try await TestApp.run(.live) { app in
            let tokens = try await app.signup()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await app.refresh(tokens.refresh).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "statuses: \(statuses)")
            #expect(statuses.filter { $0 == 401 }.count == 7, "statuses: \(statuses)")
        }
    }

    @Test("Unknown refresh tokens are rejected; refresh tokens are never access tokens, nor access tokens refresh tokens")
    func tokensAreNotInterchangeable() async throws {
        try await TestApp.run { app in
            let tokens = try await app.signup()
            let unknown = try await app.refresh("sbr_" + String(repeating: "A", count: 43))
            #expect(unknown.status == 401)
            #expect(unknown.code == "invalid_refresh_token")
            let asAccess = try await app.me(tokens.refresh)
            #expect(asAccess.status == 401)
            #expect(asAccess.code == "invalid_token")
            #expect(try await app.refresh(tokens.access).status == 401)
        }
    }

    @Test("A session ends after its inactivity timeout and at its absolute lifetime")
    func sessionLifetimes() async throws {
        try await TestApp.run(customize: {
            $0.accounts.sessionInactivitySeconds = 600
            $0.accounts.sessionLifetimeSeconds = 1500
        }) { app in
            // Inactivity: not refreshed for longer than the timeout.
            let idle = try await app.signup()
            app.clock.advance(seconds: 601)
            #expect(try await app.refresh(idle.refresh).code == "invalid_refresh_token")

            // Absolute: refreshed often, but older than the lifetime.
            var active = try await app.signup()
            for _ in 0..<2 {
                app.clock.advance(seconds: 500)
                let reply = try await app.refresh(active.refresh)
                try #require(reply.status == 200)
                active = Tokens(reply)
            }
            app.clock.advance(seconds: 501)
            #expect(try await app.refresh(active.refresh).code == "invalid_refresh_token")
        }
    }
}
