import Foundation
import HTTPTypes
import Testing

@Suite("Login and signup throttling")
struct ThrottleTests {
    func from(_ address: String) -> HTTPFields { [.init("X-Forwarded-For")!: address] }

    @Test("Too many failures from one address answer 429 with Retry-After, even for a right password")
    func perAddress() async throws {
        try await TestApp.run(.live, customize: {
            $0.accounts.maxFailures = 3
            $0.trustedProxies = ["127.0.0.1", "::1"]
        }) { app in
            let victim = try await app.signup()
            for i in 0..<3 {
                #expect(try await app.login("someone\(i)@example.com", password: "wrong password", headers: from("203.0.113.7")).status == 401)
            }
            let blocked = try await app.login(victim.email, headers: from("203.0.113.7"))
            #expect(blocked.status == 429)
            #expect(blocked.code == "rate_limited")
            let retryAfter = try #require(blocked.headers[.retryAfter].flatMap(Int.init))
            #expect((1...300).contains(retryAfter))
            // Another address is not affected.
            #expect(try await app.login(victim.email, headers: from("203.0.113.8")).status == 200)
            // The window passes.
            app.clock.advance(seconds: 301)
            #expect(try await app.login(victim.email, headers: from("203.0.113.7")).status == 200)
        }
    }

    @Test("Too many failures for one account answer 429 from any address")
    func perAccount() async throws {
        try await TestApp.run(.live, customize: {
            $0.accounts.maxFailures = 3
            $0.trustedProxies = ["127.0.0.0/8", "::1"]
        }) { app in
            let victim = try await app.signup()
            for i in 0..<3 {
                #expect(try await app.login(victim.email, password: "guess \(i)!", headers: from("198.51.100.\(i)")).status == 401)
            }
            let blocked = try await app.login(victim.email, headers: from("198.51.100.99"))
            #expect(blocked.status == 429)
            #expect(blocked.headers[.retryAfter] != nil)
        }
    }

    @Test("Without a trusted proxy, X-Forwarded-For is ignored: the socket address counts")
    func untrustedForwardedFor() async throws {
        try await TestApp.run(.live, customize: { $0.accounts.maxFailures = 2 }) { app in
            let victim = try await app.signup()
            for i in 0..<2 {
                _ = try await app.login("nobody\(i)@example.com", password: "wrong password", headers: from("192.0.2.\(i)"))
            }
            #expect(try await app.login(victim.email, headers: from("192.0.2.50")).status == 429)
        }
    }

    @Test("Signups are limited per address")
    func signupPerAddress() async throws {
        try await TestApp.run(.live, customize: { $0.accounts.maxSignups = 2 }) { app in
            _ = try await app.signup()
            _ = try await app.signup()
            let third = try await app.request(.post, "/api/v1/auth/signup", json: ["email": "third@example.com", "password": "12345678"])
            #expect(third.status == 429)
            #expect(third.headers[.retryAfter] != nil)
        }
    }
}
