@testable import Agents
import App
import Core
import Foundation
import LLM
import Testing

/// `memory.extract`: after a turn, one model call proposes facts about the user, which are only ever added.
@Suite("Fact extraction")
struct FactExtractionTests {
    static let yaml = """
        blueprint: 1
        app: {name: coachapp}
        agents:
          coach: {description: Coaches, system: prompts/coach.md, tools: [current_time], memory: auto}
          plain: {description: Plain, system: prompts/coach.md, tools: [current_time]}
        """

    /// A server with the coach blueprint, `model` answering, the fake embedding server, and extraction on.
    static func withApp(_ model: FakeProvider, _ body: @Sendable (TestApp, FakeEmbeddings) async throws -> Void) async throws {
        let embeddings = try await FakeEmbeddings.start()
        let directory = try TestBlueprint.directory(Self.yaml, files: ["prompts/coach.md": "You coach."])
        try await TestApp.withFakes([model], customize: { settings in
            settings.blueprintDirectory = directory
            settings.embeddings = [embeddings.config()]
            settings.memoryEmbedding = "fake"
            settings.memory.extract = true
            settings.retry.baseBackoff = .milliseconds(1)
        }) { app in try await body(app, embeddings) }
        await embeddings.stop()
    }

    /// The user's memories in `facts` once there are `count` of them (extraction runs after the turn's answer).
    static func facts(_ app: TestApp, token: String, count: Int) async throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        for _ in 0..<200 {
            items = try await app.request(.get, "/api/v1/memories?namespace=facts", token: token)["items"] as? [[String: Any]] ?? []
            if items.count >= count { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        return items
    }

    @Test("A turn's facts are added to the user's memory, a repeated fact once; an agent without memory extracts nothing")
    func extracts() async throws {
        let model = try await FakeProvider.start(.openai, [
            .text("Go easy on the knee this week."),
            .text(#"{"facts": ["The user's left knee hurts after running", "The user trains legs on Mondays", "  "]}"#),
        ])
        try await Self.withApp(model) { app, _ in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "My left knee hurts after running; I do legs on Mondays.", token: user.access,
                                           extra: ["agent": "coach"])
            #expect(reply["status"] as? String == "complete", "\(reply.text)")
            let facts = try await Self.facts(app, token: user.access, count: 2)
            #expect(Set(facts.compactMap { $0["text"] as? String }) == ["The user's left knee hurts after running", "The user trains legs on Mondays"],
                    "\(facts)")
            #expect(facts.allSatisfy { ($0["tags"] as? [String]) == ["extracted"] && ($0["metadata"] as? [String: Any])?["conversation_id"] as? String == conversation })
            let extraction = try #require(model.requests.last?.body)
            #expect(extraction["response_format"]?["json_schema"]?["name"]?.stringValue == "user_facts", "\(extraction)")
            let shown = extraction["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
            #expect(shown.contains("I do legs on Mondays") && shown.contains("Go easy on the knee"), "the exchange is shown: \(shown)")

            // The same fact again is not stored twice, nor a fact the batch repeats; a new one is added; nothing is removed.
            model.enqueue([.text("Noted."), .text(#"{"facts": ["The user's left knee hurts after running.", "The user is vegetarian", "The user is vegetarian."]}"#)])
            _ = try await app.send(conversation, "Still the knee. Also, I'm vegetarian.", token: user.access, extra: ["agent": "coach"])
            let more = try await Self.facts(app, token: user.access, count: 3)
            #expect(more.count == 3 && more.contains { $0["text"] as? String == "The user is vegetarian" }, "\(more)")

            let before = model.requests.count
            model.enqueue([.text("Hello.")])
            _ = try await app.send(conversation, "I also like swimming.", token: user.access, extra: ["agent": "plain"])
            try await Task.sleep(for: .milliseconds(200))
            #expect(model.requests.count == before + 1, "an agent with memory off makes no extraction call")
        }
    }

    @Test("A malformed or failing extraction costs only the facts: the turn's answer stands")
    func failures() async throws {
        #expect(Orchestrator.facts(in: "```json\n{\"facts\": [\"The user runs\"]}\n```") == ["The user runs"])
        #expect(Orchestrator.facts(in: "no JSON here").isEmpty)
        #expect(Orchestrator.facts(in: #"{"facts": [1, "ok", "bad\u0007bell"]}"#) == ["ok"])
        #expect(Orchestrator.facts(in: #"{"facts": ["a", "b", "c", "d", "e", "f"]}"#).count == Orchestrator.maxFacts)

        let model = try await FakeProvider.start(.openai, [.text("Answer one."), .status(400, message: "boom"), .text("Answer two."), .text("not json")])
        try await Self.withApp(model) { app, _ in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            for text in ["I run daily.", "I swim too."] {
                let reply = try await app.send(conversation, text, token: user.access, extra: ["agent": "coach"])
                #expect(reply["status"] as? String == "complete", "\(reply.text)")
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await app.request(.get, "/api/v1/memories", token: user.access)["total"] as? Int == 0)
        }
    }
}
