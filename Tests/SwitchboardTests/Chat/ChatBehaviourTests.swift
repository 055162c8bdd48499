import Agents
import App
import Core
import Foundation
import LLM
import Storage
import Testing

@Suite("Chat behaviour")
struct ChatBehaviourTests {
    @Test("The demo model answers out of the box, labelled as the mock it is, and a script file drives it")
    func mockModel() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("script.json").path
        try Data("""
            {"chunk_delay_ms": 0, "turns": [
              {"match": "search", "replies": [
                {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "lisbon"}}]},
                {"text": "Found: {{tool_result}}"}]},
              {"replies": [{"text": "Echo: {{user_message}}"}]}]}
            """.utf8).write(to: URL(fileURLWithPath: script))
        try await TestApp.run(customize: { settings in
            var scripted = ModelConfig(name: "scripted", provider: .mock, model: "scripted")
            scripted.mockScript = script
            settings.models.append(scripted)
        }) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access, title: "Lisbon")
            let demo = try await app.send(id, "Hi", token: user.access)
            let message = demo["message"] as? [String: Any] ?? [:]
            #expect(message["provider"] as? String == "mock")
            #expect(message.text.contains("mock model"))
            #expect(message.text.hasSuffix("You said: Hi"))

            let echo = try await app.send(id, "I loved Lisbon", token: user.access, extra: ["model": "scripted"])
            #expect((echo["message"] as? [String: Any])?.text == "Echo: I loved Lisbon")
            let search = try await app.send(id, "search please", token: user.access, extra: ["model": "scripted"])
            let found = (search["message"] as? [String: Any])?.text ?? ""
            #expect(found.hasPrefix("Found: "))
            #expect(found.contains("I loved Lisbon"), "conversation_search found the user's own earlier message")

            let models = try await app.request(.get, "/api/v1/models", token: user.access)
            let names = (models["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["demo", "scripted"])
            let agents = try await app.request(.get, "/api/v1/agents", token: user.access)
            let assistant = (agents["items"] as? [[String: Any]])?.first { $0["name"] as? String == "assistant" }
            #expect(assistant?["name"] as? String == "assistant")
            #expect(assistant?["default"] as? Bool == true)
            #expect(assistant?["tools"] as? [String] == ["current_time", "conversation_search"])
        }
    }

    @Test("conversation_search never returns another user's messages")
    func searchIsOwnerScoped() async throws {
        try await TestApp.run { app in
            let alice = try await app.signup()
            let bob = try await app.signup()
            let secret = try await app.conversation(alice.access)
            #expect(try await app.send(secret, "my password hint is pelican", token: alice.access).status == 200)
            let store = ConversationStore(db: app.server.database)
            let bobID = try #require(UUID(uuidString: bob.userID))
            let aliceID = try #require(UUID(uuidString: alice.userID))
            #expect(try await store.search(userID: bobID, query: "pelican", limit: 10).isEmpty)
            let hits = try await store.search(userID: aliceID, query: "PELICAN", limit: 10)
            #expect(!hits.isEmpty)
            #expect(hits.allSatisfy { $0.message.conversationID.uuidString.lowercased() == secret })
            let tool = ConversationSearchTool(conversations: store)
            let result = try await tool.execute(["query": "pelican"], context: ToolContext(userID: bobID, conversationID: UUID(), logger: TestDatabase.logger))
            #expect(result["results"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("Token usage is recorded per message and per user, day and model, summed atomically")
    func usageIsRecorded() async throws {
        let fake = try await FakeProvider.start(.openai, [.toolCalls([FakeCall("current_time")]), .text("One."), .text("Two.")])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            #expect(try await app.send(id, "first", token: user.access).status == 200)
            #expect(try await app.send(id, "second", token: user.access).status == 200)
            let userID = try #require(UUID(uuidString: user.userID))
            let days = try await UsageStore(db: app.server.database).daily(userID: userID, from: "2000-01-01", to: "2999-12-31")
            #expect(days.count == 1)
            #expect(days.first?.model == "model0")
            #expect(days.first?.requests == 3)
            #expect(days.first?.usage.inputTokens == 3 * FakeUsage.input)
            #expect(days.first?.usage.outputTokens == 3 * FakeUsage.output)
            #expect(days.first?.usage.cachedInputTokens == 3 * FakeUsage.cached)
        }
    }

    @Test("Provider errors reach the client as 502/503/504 naming the model, never the key; 401 is not retried")
    func providerErrors() async throws {
        let fake = try await FakeProvider.start(.openai, [])
        fake.enqueue([.status(401, message: "Incorrect API key provided: \(fake.apiKey)")])
        // Cooling down after repeated failures has its own test.
        try await TestApp.withFakes([fake], customize: { $0.retry.cooldownAfter = 100 }) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let unauthorized = try await app.send(id, "hello", token: user.access)
            #expect(unauthorized.status == 502)
            #expect(unauthorized.code == "model_error")
            #expect(unauthorized["model"] as? String == "model0")
            #expect(!unauthorized.text.contains(fake.apiKey))
            #expect(fake.requests.count == 1, "a 401 is not retried")
            #expect(!app.logs.all.joined().contains(fake.apiKey), "the key is in no log line")

            fake.enqueue([.status(503), .status(503), .status(503)])
            let unavailable = try await app.send(id, "again", token: user.access)
            #expect(unavailable.status == 503)
            #expect(unavailable.code == "model_unavailable")
            #expect(fake.requests.count == 4)

            // The failed turns are stored as such; the conversation is free again.
            let stored = try await app.messages(id, token: user.access)
            #expect(stored.filter { $0.role == "assistant" }.allSatisfy { $0.status == "error" })
            fake.enqueue([.text("Fine now.")])
            #expect(try await app.send(id, "third", token: user.access).status == 200)
        }
    }

    @Test("Retry-After is honoured before the next attempt")
    func retryAfter() async throws {
        let fake = try await FakeProvider.start(.anthropic, [.status(429, headers: ["retry-after": "1"]), .text("After waiting.")])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let started = ContinuousClock.now
            let reply = try await app.send(id, "hello", token: user.access)
            // A floor, not a speed measurement: without the wait the retry comes within milliseconds.
            #expect(ContinuousClock.now - started >= .seconds(1))
            #expect(reply.status == 200)
        }
    }

    @Test("A model that keeps failing cools down: later turns go straight to the fallback")
    func cooldown() async throws {
        let primary = try await FakeProvider.start(.gemini, [.status(500), .status(500), .status(500)])
        let backup = try await FakeProvider.start(.openai, [.text("Backup one."), .text("Backup two.")])
        try await TestApp.withFakes([primary, backup], models: [primary.model("primary", fallbacks: ["backup"]), backup.model("backup")]) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            #expect(try await app.send(id, "one", token: user.access).status == 200)
            #expect(primary.requests.count == 3)
            let second = try await app.send(id, "two", token: user.access)
            #expect((second["message"] as? [String: Any])?["model"] as? String == "backup")
            #expect(primary.requests.count == 3, "the cooling model was not called")
        }
    }

    @Test("A provider that refuses connections is retried, then its fallback answers")
    func connectionRefused() async throws {
        let backup = try await FakeProvider.start(.openai, [.text("Reachable.")])
        var down = backup.model("down", fallbacks: ["backup"])
        down.baseURL = "http://127.0.0.1:1/v1" // nothing listens on port 1
        down.connectTimeout = .seconds(60)
        try await TestApp.withFakes([backup], models: [down, backup.model("backup")]) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let started = ContinuousClock.now
            let reply = try await app.send(id, "hello", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            #expect((reply["message"] as? [String: Any])?["model"] as? String == "backup")
            // Far below the one-minute connect timeout, whatever the machine's load: a refusal is not waited out.
            #expect(ContinuousClock.now - started < .seconds(30), "a refused connection fails fast, not after the connect timeout")
        }
    }

    @Test("The turn deadline stops a slow model; the part written is kept as incomplete and the answer is 504")
    func turnTimeout() async throws {
        let fake = try await FakeProvider.start(.openai, [.slow("word word word word word word", delay: .seconds(4))])
        // The first words come at once and the rest four seconds apart: the deadline falls well inside the answer,
        // and after the first words even on a machine loaded by the whole suite (where a turn was seen to take more
        // than two seconds to reach the model).
        try await TestApp.withFakes([fake], customize: { $0.chat.turnTimeout = .seconds(6) }) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let reply = try await app.send(id, "slowly", token: user.access)
            #expect(reply.status == 504)
            #expect(reply.code == "turn_timeout")
            let stored = try await app.messages(id, token: user.access)
            #expect(stored.last?.role == "assistant")
            #expect(stored.last?.status == "incomplete")
            #expect(stored.last?.text.hasPrefix("word") == true)
        }
    }

    @Test("A conversation deleted while its turn runs: the turn answers 404, not a server error")
    func deletedMidTurn() async throws {
        let fake = try await FakeProvider.start(.openai, [.slow("word word word word word word", delay: .milliseconds(500))])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            async let reply = app.send(id, "slowly", token: user.access)
            for _ in 0..<100 where fake.requests.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await app.request(.delete, "/api/v1/conversations/\(id)", token: user.access).status == 204)
            let answered = try await reply
            #expect(answered.status == 404, "\(answered.text)")
            #expect(answered.code == "not_found")
        }
    }

    @Test("Unknown agent or model, empty or oversized content: 400 with field errors, nothing stored")
    func badTurns() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            #expect(try await app.send(id, "x", token: user.access, extra: ["agent": "ghost"]).fieldErrors["agent"] == "unknown_agent")
            #expect(try await app.send(id, "x", token: user.access, extra: ["model": "gpt-9"]).fieldErrors["model"] == "unknown_model")
            #expect(try await app.send(id, "   ", token: user.access).fieldErrors["content"] == "required")
            #expect(try await app.send(id, String(repeating: "y", count: 32_001), token: user.access).fieldErrors["content"] == "too_long")
            #expect(try await app.send(id, "x", token: user.access, extra: ["temperature": 2]).fieldErrors["temperature"] == "unknown_field")
            #expect(try await app.messages(id, token: user.access).isEmpty)
        }
    }
}
