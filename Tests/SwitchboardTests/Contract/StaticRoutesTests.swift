import Foundation
import HTTPTypes
import Testing

/// Operations whose path has no parameter are found by their whole path before the router is asked
/// (`StaticRoutes`): they must answer exactly as the router's route does, through the same middleware.
@Suite("Static routes")
struct StaticRoutesTests {
    @Test("A path found whole answers through the whole middleware chain, as the router's route does; other forms go to the router")
    func sameAsRouter() async throws {
        try await TestApp.run(.live, customize: { $0.rateLimitEnabled = true }) { app in
            let tokens = try await app.signup()
            let me = try await app.me(tokens.access)
            #expect(me.status == 200)
            #expect(me["id"] as? String == tokens.userID)
            // Middleware ran: the request id, and the rate limit of the identity the token resolved to.
            #expect(me.headers[HTTPField.Name("X-Request-ID")!] != nil)
            #expect(me.headers[HTTPField.Name("RateLimit-Limit")!] == "60")
            // The route's own checks still apply.
            let anonymous = try await app.request(.get, "/api/v1/auth/me")
            #expect(anonymous.status == 401)
            #expect(anonymous.code == "unauthorized")

            // A trailing slash is not the table's key: the router answers it, and as the same route.
            let slashed = try await app.request(.get, "/api/v1/auth/me/", token: tokens.access)
            #expect(slashed.status == 200)
            #expect(slashed["id"] as? String == tokens.userID)

            // Another method of a path in the table: the router's 405, with the methods the path has.
            let wrongMethod = try await app.request(.delete, "/api/v1/auth/me", token: tokens.access)
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers[.allow] == "GET")

            // A query does not change the path it is found by.
            let health = try await app.request(.get, "/health?probe=1")
            #expect(health.status == 200)
            #expect(health["status"] as? String == "ok")
        }
    }
}
