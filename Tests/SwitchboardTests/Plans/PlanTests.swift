import App
import Core
import Foundation
import HTTPTypes
import LLM
import Storage
import Testing

@Suite("Plans, features and quotas")
struct PlanTests {
    /// Moves a user to `tier` in the database, as Stripe's webhook or an admin would.
    static func setTier(_ app: TestApp, _ user: Tokens, _ tier: String, seats: Int = 1) async throws {
        try await app.server.database.run("UPDATE users SET tier = \(bind: tier), seats = \(bind: Int64(seats)) WHERE id = \(bind: user.userID)")
    }

    @Test("GET /account/plan shows the tier from the database, its limits and the month's usage")
    func plan() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("One.")])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            try await Self.setTier(app, user, "free")
            let plan = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            #expect(plan["tier"] as? String == "free")
            let limits = plan["limits"] as? [String: Any] ?? [:]
            #expect(limits["requests_per_minute"] as? Int == 20)
            #expect(limits["monthly_tokens"] as? Int == 200_000)
            #expect((limits["features"] as? [String])?.contains("agent:assistant") == true)
            let conversation = try await app.conversation(user.access)
            #expect(try await app.send(conversation, "hi", token: user.access).status == 200)
            app.clock.advance(seconds: Quotas.storageRecheck)  // the storage figure shown is up to that old
            let after = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            let usage = after["usage"] as? [String: Any] ?? [:]
            #expect(usage["tokens_used"] as? Int == FakeUsage.input + FakeUsage.output)
            #expect(usage["tokens_remaining"] as? Int == 200_000 - FakeUsage.input - FakeUsage.output)
            #expect((usage["storage_bytes"] as? Int ?? 0) > 0)

            try await Self.setTier(app, user, "team", seats: 3)
            let team = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            #expect(team["tier"] as? String == "team", "the next request sees the change: no new login")
            #expect((team["limits"] as? [String: Any])?["requests_per_minute"] as? Int == 600, "200 per seat")
        }
    }

    @Test("Routes, agents and tools outside the plan answer 403 feature_not_in_plan; a downgrade applies at once")
    func features() async throws {
        let account = try TestServiceAccount()
        let fake = try await FakeProvider.start(.openai, [.text("Hello."), .text("Again.")])
        try await TestApp.withFakes([fake], agents: Settings().agents) { app in
            let user = try await app.signup()
            _ = try await app.connect(account, token: user.access) // on pro
            try await Self.setTier(app, user, "free")
            let refused = try await app.request(.post, "/api/v1/integrations", json: ["kind": "api_key", "credentials": "sk-1"], token: user.access)
            #expect(refused.status == 403)
            #expect(refused.code == "feature_not_in_plan")
            #expect(refused["feature"] as? String == "integrations")
            let list = try await app.request(.get, "/api/v1/integrations", token: user.access)
            #expect(list["total"] as? Int == 1, "what was connected can still be seen and removed")

            let conversation = try await app.conversation(user.access)
            let agent = try await app.send(conversation, "numbers?", token: user.access, extra: ["agent": "analytics"])
            #expect(agent.status == 403)
            #expect(agent["feature"] as? String == "agent:analytics")
            #expect(fake.requests.isEmpty, "refused before any model call")
            #expect(try await app.messages(conversation, token: user.access).isEmpty, "and before anything is stored")

            let key = try await app.request(.post, "/api/v1/api-keys", json: ["name": "ci", "scopes": ["chat"]], token: user.access)
            #expect(key["feature"] as? String == "api_keys")

            // Tools are filtered too: a tier without conversation_search never offers it to the model.
            #expect(try await app.send(conversation, "hi", token: user.access).status == 200)
            let tools = fake.requests.last?.body["tools"]?.arrayValue?.compactMap { $0["function"]?["name"]?.stringValue } ?? []
            #expect(Set(tools) == ["current_time", "conversation_search"])
        }
    }

    @Test("A tier's features decide which tools the model is told about")
    func toolFiltering() async throws {
        let fake = try await FakeProvider.start(.anthropic, [.text("Hi.")])
        try await TestApp.withFakes([fake], customize: { settings in
            settings.freeTier(also: ["pro"]) { $0.features = ["chat", "agent:assistant", "tool:current_time"] }
        }) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            #expect(try await app.send(conversation, "hi", token: user.access).status == 200)
            let tools = fake.requests.last?.body["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(tools == ["current_time"])
        }
    }

    @Test("Token budgets: a turn is admitted only with budget left; over it, 402 before any provider call")
    func budget() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("One."), .text("Two."), .text("Three.")])
        try await TestApp.withFakes([fake], customize: { settings in
            settings.freeTier { $0.monthlyTokens = 50 }
        }) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            #expect(try await app.send(conversation, "one", token: user.access).status == 200) // 30 used
            #expect(try await app.send(conversation, "two", token: user.access).status == 200) // 60 used: over, but admitted at 30
            let refused = try await app.send(conversation, "three", token: user.access)
            #expect(refused.status == 402)
            #expect(refused.code == "quota_exceeded")
            #expect(fake.requests.count == 2, "no provider call for a refused turn")
            let plan = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            #expect((plan["usage"] as? [String: Any])?["tokens_remaining"] as? Int == 0, "never below zero")
            // Next month, the budget is back.
            app.clock.advance(seconds: 32 * 86_400)
            fake.enqueue([.text("Next month.")])
            let fresh = try await app.login(user.email)["access_token"] as? String ?? "" // the old session has expired
            #expect(try await app.send(conversation, "four", token: fresh).status == 200)
        }
    }

    @Test("A tool-using turn stops at the budget between model steps, keeping what it did and saying why")
    func budgetBetweenSteps() async throws {
        // Each model call uses 30 tokens: with 50, the second step is admitted (30 used), the third is not (60).
        let fake = try await FakeProvider.start(.openai, [.toolCalls([FakeCall("current_time")]), .toolCalls([FakeCall("current_time")]),
                                                          .text("Never asked for.")])
        try await TestApp.withFakes([fake], customize: { settings in
            settings.freeTier { $0.monthlyTokens = 50 }
        }) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let stopped = try await app.send(conversation, "what time is it, twice?", token: user.access)
            #expect(stopped.status == 402)
            #expect(stopped.code == "quota_exceeded")
            #expect(fake.requests.count == 2, "no model call past the budget")
            let messages = try await app.messages(conversation, token: user.access)
            #expect(messages.filter { $0["role"] as? String == "tool" }.count == 2, "the steps before are kept")
            let last = try #require(messages.last)
            #expect(last["status"] as? String == "error")
            #expect((last["error"] as? [String: Any])?["code"] as? String == "quota_exceeded")
            let owner = try #require(try await app.server.accounts.user(email: user.email))
            let balance = try await Quotas(db: app.server.database, plans: app.settings.plans, clock: app.clock.wallClock).balance(user: owner)
            #expect(balance.used == 60, "both steps were debited")
        }
    }

    @Test("Storage quotas: over the plan's storage, no new conversation or turn (402); deleting frees it at once")
    func storage() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("Stored.")])
        try await TestApp.withFakes([fake], customize: { settings in
            settings.freeTier { $0.storageBytes = 4_000 }
        }) { app in
            let user = try await app.signup()
            let small = try await app.conversation(user.access)
            #expect(try await app.send(small, "hi", token: user.access).status == 200, "well under the quota")
            let big = try await app.request(.post, "/api/v1/conversations", json: ["metadata": ["notes": String(repeating: "n", count: 5_000)]],
                                            token: user.access)
            #expect(big.status == 201, "admitted while under the quota")
            #expect(try await app.request(.post, "/api/v1/conversations", json: [:], token: user.access).status == 201,
                    "the figure measured before is trusted for \(Quotas.storageRecheck) seconds")
            app.clock.advance(seconds: Quotas.storageRecheck)
            let refused = try await app.request(.post, "/api/v1/conversations", json: [:], token: user.access)
            #expect(refused.status == 402)
            #expect(refused.code == "storage_quota_exceeded")
            let turn = try await app.send(small, "more", token: user.access)
            #expect(turn.code == "storage_quota_exceeded")
            #expect(fake.requests.count == 1, "refused before any model call")
            let plan = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            #expect(((plan["usage"] as? [String: Any])?["storage_bytes"] as? Int ?? 0) > 4_000)
            #expect(try await app.request(.delete, "/api/v1/conversations/\(big["id"] as? String ?? "")", token: user.access).status == 204)
            #expect(try await app.request(.post, "/api/v1/conversations", json: [:], token: user.access).status == 201, "freed at once")
        }
    }

    @Test("A debit happens once per turn, also for failed turns, and concurrent turns add up exactly")
    func debits() async throws {
        let fake = try await FakeProvider.start(.anthropic, [.cut(afterText: "partial answer")])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let owner = try #require(try await app.server.accounts.user(email: user.email))
            let conversation = try await app.conversation(user.access)
            let failed = try await app.send(conversation, "cut", token: user.access)
            #expect(failed.status >= 500)
            let afterCut = try await Quotas(db: app.server.database, plans: app.settings.plans, clock: app.clock.wallClock).balance(user: owner)
            #expect(afterCut.used == Int64(FakeUsage.input + 1), "a failed turn pays for the tokens it did use (here the prompt and one)")

            let quotas = Quotas(db: app.server.database, plans: app.settings.plans, clock: app.clock.wallClock)
            let turns = (0..<12).map { _ in UUID() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for turn in turns {
                    // Each turn debited twice at once (a retry racing the first try): it must count once.
                    for _ in 0..<2 { group.addTask { try await quotas.debit(turnID: turn, userID: owner.id, tokens: 100) } }
                }
                try await group.waitForAll()
            }
            #expect(try await quotas.balance(user: owner).used == afterCut.used + 1200)
            let rows = try await app.server.database.all("SELECT turn_id FROM quota_debits")
            #expect(rows.count == 13)
        }
    }

    @Test("Usage by day or by model, with the cost from configured prices; bad dates are refused")
    func usageReport() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("One."), .text("Two.")])
        try await TestApp.withFakes([fake], customize: { settings in
            settings.prices = ["model0": ModelPrice(input: 2.0, cachedInput: 1.0, output: 10.0)]
        }) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            #expect(try await app.send(conversation, "one", token: user.access).status == 200)
            app.clock.advance(seconds: 86_400)
            let token = try await app.login(user.email)["access_token"] as? String ?? "" // a day later, a new access token
            #expect(try await app.send(conversation, "two", token: token).status == 200)
            let from = UsageStore.day(app.clock.wallClock.now.addingTimeInterval(-86_400))
            let byDay = try await app.request(.get, "/api/v1/account/usage?from=\(from)&group_by=day", token: token)
            #expect((byDay["items"] as? [[String: Any]])?.count == 2)
            let byModel = try await app.request(.get, "/api/v1/account/usage?from=\(from)&group_by=model", token: token)
            let line = try #require((byModel["items"] as? [[String: Any]])?.first)
            #expect(line["key"] as? String == "model0")
            #expect(line["requests"] as? Int == 2)
            // Per call: 15 uncached × $2 + 5 cached × $1 + 10 output × $10, per million tokens.
            let expected = 2.0 * (15 * 2.0 + 5 * 1.0 + 10 * 10.0) / 1_000_000
            #expect(abs((line["cost_usd"] as? Double ?? 0) - expected) < 1e-9)
            #expect((byModel["total"] as? [String: Any])?["total_tokens"] as? Int == 60)
            #expect(try await app.request(.get, "/api/v1/account/usage?from=yesterday", token: token).fieldErrors["from"] == "invalid_date")
            #expect(try await app.request(.get, "/api/v1/account/usage?from=2026-03-01&to=2026-02-01", token: token).fieldErrors["to"] == "before_from")
            #expect(try await app.request(.get, "/api/v1/account/usage?from=2020-01-01&to=2026-01-01", token: token).fieldErrors["to"] == "range_too_long")
        }
    }
}
