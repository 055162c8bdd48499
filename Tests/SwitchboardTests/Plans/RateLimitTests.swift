import App
import Core
import Foundation
import HTTPTypes
import Storage
import Testing

@Suite("Rate limits")
struct RateLimitTests {
    @Test("GCRA: a minute's burst, then one request every 60/rate seconds; the headers say where one stands")
    func algorithm() async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let (database, _, _) = try await TestDatabase.open()
        try await Migrator(database: database, migrations: Schema.migrations, logger: TestDatabase.logger).migrate()
        for limiter in [LocalRateLimiter() as any RateLimiter, DatabaseRateLimiter(db: database, databaseClock: false)] {
            let user = UUID()
            var decisions: [RateLimitDecision] = []
            for _ in 0..<21 { decisions.append(try await limiter.acquire(user: user, rate: 20, now: start)) }
            #expect(decisions.prefix(20).allSatisfy { $0.allowed })
            #expect(decisions.first?.remaining == 19)
            #expect(decisions[19].remaining == 0)
            #expect(decisions[20].allowed == false)
            #expect(decisions[20].retryAfterSeconds == 3, "one request every 3 s at 20 a minute")
            #expect(try await limiter.acquire(user: user, rate: 20, now: start.addingTimeInterval(2.9)).allowed == false)
            #expect(try await limiter.acquire(user: user, rate: 20, now: start.addingTimeInterval(3)).allowed)
            #expect(try await limiter.acquire(user: UUID(), rate: 20, now: start).allowed, "limits are per key")
            let later = try await limiter.acquire(user: user, rate: 20, now: start.addingTimeInterval(120))
            #expect(later.remaining == 19, "a quiet minute refills the allowance")
            // Only the local limiter decides without suspending, and against the same allowance as `acquire`.
            if let local = limiter as? LocalRateLimiter {
                let other = UUID()
                for _ in 0..<19 { #expect(local.acquireInProcess(user: other, rate: 20, now: start)?.allowed == true) }
                #expect(try await limiter.acquire(user: other, rate: 20, now: start).remaining == 0)
                #expect(local.acquireInProcess(user: other, rate: 20, now: start)?.allowed == false)
            } else {
                #expect(limiter.acquireInProcess(user: UUID(), rate: 20, now: start) == nil)
            }
        }
        try await database.close()
    }

    @Test("High rates keep their spacing: 120,000 a minute is two a millisecond once the burst is spent")
    func highRates() async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let limiter = LocalRateLimiter(), team = UUID()
        for _ in 0..<120_000 { _ = try await limiter.acquire(user: team, rate: 120_000, now: start) }
        #expect(try await limiter.acquire(user: team, rate: 120_000, now: start).allowed == false, "the burst is a minute's worth")
        let later = start.addingTimeInterval(0.001)
        let decisions = [try await limiter.acquire(user: team, rate: 120_000, now: later), try await limiter.acquire(user: team, rate: 120_000, now: later),
                         try await limiter.acquire(user: team, rate: 120_000, now: later)]
        #expect(decisions.map(\.allowed) == [true, true, false])
    }

    @Test("On PostgreSQL the shared limiter times requests by the database's clock", .enabled(if: TestDatabase.engine == .postgres))
    func databaseClock() async throws {
        let (database, _, _) = try await TestDatabase.open()
        try await Migrator(database: database, migrations: Schema.migrations, logger: TestDatabase.logger).migrate()
        let limiter = DatabaseRateLimiter(db: database, databaseClock: true)
        // The time passed in is a process's clock an hour off: it must not matter.
        let skewed = Date().addingTimeInterval(-3600), user = UUID()
        var decisions: [RateLimitDecision] = []
        // Two a minute: the third request comes long before the 30 s spacing, however loaded the machine.
        for _ in 0..<3 { decisions.append(try await limiter.acquire(user: user, rate: 2, now: skewed)) }
        #expect(decisions.prefix(2).allSatisfy { $0.allowed })
        #expect(decisions[0].remaining == 1)
        #expect(decisions[2].allowed == false)
        #expect((1...30).contains(decisions[2].retryAfterSeconds ?? 0), "30 s apart at 2 a minute, less the time the requests took")
        let tat = try await database.first("SELECT tat FROM rate_limits WHERE key = \(bind: "user:" + user.lowercased)")?.decode(column: "tat", as: Int64.self) ?? 0
        #expect(abs(Double(tat) / 1_000_000 - Date().timeIntervalSince1970) < 120, "stored by the database's clock, not the skewed one")
        try await database.close()
    }

    @Test("Requests beyond the tier's rate answer 429 with Retry-After and RateLimit headers")
    func middleware() async throws {
        try await TestApp.run(customize: { settings in
            settings.rateLimitEnabled = true
            settings.defaultTier("free")
        }) { app in
            let user = try await app.signup()
            var replies: [Reply] = []
            for _ in 0..<21 { replies.append(try await app.request(.get, "/api/v1/auth/me", token: user.access)) }
            #expect(replies.prefix(20).allSatisfy { $0.status == 200 })
            #expect(replies[0].headers[HTTPField.Name("RateLimit-Limit")!] == "20")
            #expect(replies[0].headers[HTTPField.Name("RateLimit-Remaining")!] == "19")
            let limited = replies[20]
            #expect(limited.status == 429)
            #expect(limited.code == "rate_limited")
            #expect(limited.headers[.retryAfter] == "3")
            #expect(limited.headers[HTTPField.Name("RateLimit-Remaining")!] == "0")
            #expect(try await app.request(.get, "/health").status == 200, "unauthenticated routes are not counted")
            app.clock.advance(seconds: 3)
            #expect(try await app.request(.get, "/api/v1/auth/me", token: user.access).status == 200)
            // An upgrade applies to the next request.
            try await app.server.database.run("UPDATE users SET tier = 'power' WHERE id = \(bind: user.userID)")
            let upgraded = try await app.request(.get, "/api/v1/auth/me", token: user.access)
            #expect(upgraded.headers[HTTPField.Name("RateLimit-Limit")!] == "120")
        }
    }

    @Test("Chat frames over a WebSocket count against the same rate as HTTP requests")
    func webSocket() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("One frame.")])
        try await TestApp.withFakes([fake], testing: .live, customize: { settings in
            settings.freeTier { $0.requestsPerMinute = 2 }
            settings.rateLimitEnabled = true
        }) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access) // the first of two
            let frame = #"{"conversation_id": "\#(conversation)", "content": "hi"}"#
            let frames = try await StreamingTests.exchange(url: "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream",
                                                           headers: [.authorization: "Bearer \(user.access)"], logger: TestDatabase.logger,
                                                           frames: [frame, frame])
            #expect(frames.contains { $0["event"] == "done" }, "the second request of the minute runs")
            let limited = try #require(frames.first { $0["event"] == "error" })
            #expect(limited["data"]?["code"] == "rate_limited")
            #expect(limited["data"]?["retry_after"] == 30)
            #expect(fake.requests.count == 1)
        }
    }

    @Test("Two server processes on one PostgreSQL enforce one shared limit", .enabled(if: TestDatabase.engine == .postgres))
    func sharedAcrossProcesses() async throws {
        let (directory, shared) = try await CLI.sharedEnvironment()
        let first = try await ServerProcess.start(directory: directory, environment: shared)
        let second = try await ServerProcess.start(directory: directory, environment: shared)
        defer { first.stop(); second.stop() }
        let signup = try await first.post("/api/v1/auth/signup", json: ["email": "shared@example.com", "password": "correct horse battery"])
        let token = try #require(signup.json["access_token"] as? String)
        var allowed = 0, limited = 0
        let started = ContinuousClock.now
        for index in 0..<30 {
            let status = try await (index % 2 == 0 ? first : second).get("/api/v1/auth/me", token: token).status
            if status == 200 { allowed += 1 } else if status == 429 { limited += 1 }
        }
        // The free tier's 20 a minute, whichever process answers (two separate limits would allow all 30), plus one
        // more for every 3 s the requests took on a loaded machine.
        let refills = Int((ContinuousClock.now - started) / .seconds(3))
        #expect((20...20 + refills).contains(allowed), "\(allowed) allowed in \(refills * 3)+ s")
        #expect(allowed + limited == 30)
        #expect(limited > 0)
    }
}
