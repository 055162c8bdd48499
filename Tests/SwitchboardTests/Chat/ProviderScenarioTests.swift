import Agents
import Foundation
import LLM
import Testing

/// The same conversations against fake OpenAI, Anthropic and Gemini servers speaking each wire format.
@Suite("Chat scenarios on every provider")
struct ProviderScenarioTests {
    @Test("A multi-step tool loop: the model calls a tool, gets its result back in its own format, and answers", arguments: FakeProvider.Kind.allCases)
    func toolLoop(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("current_time", #"{"timezone": "Europe/Paris"}"#)]),
            .text("It is noon in Paris."),
        ])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "What time is it in Paris?", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            let message = reply["message"] as? [String: Any] ?? [:]
            #expect(message.text == "It is noon in Paris.")
            #expect(message["model"] as? String == "model0")
            #expect(message["provider"] as? String == kind.rawValue)

            let stored = try await app.messages(conversation, token: user.access)
            #expect(stored.map(\.role) == ["user", "assistant", "tool", "assistant"])
            let call = try #require(stored[1].toolCalls.first)
            #expect(call["name"] as? String == "current_time")
            #expect((call["arguments"] as? [String: Any])?["timezone"] as? String == "Europe/Paris")
            let result = try #require(stored[2].toolResults.first)
            #expect(result["tool_call_id"] as? String == call["id"] as? String)
            #expect(result["is_error"] as? Bool == false)
            #expect((result["content"] as? [String: Any])?["timezone"] as? String == "Europe/Paris")

            // Usage is normalised: every provider's counts read the same.
            let usage = stored[3].usage
            #expect(usage["input_tokens"] as? Int == FakeUsage.input)
            #expect(usage["cached_input_tokens"] as? Int == FakeUsage.cached)
            #expect(usage["output_tokens"] as? Int == FakeUsage.output)
            if kind != .anthropic { #expect(usage["reasoning_tokens"] as? Int == FakeUsage.reasoning) }

            #expect(fake.requests.count == 2)
            let second = fake.requests[1].body
            switch kind {
            case .openai:
                let messages = second["messages"]?.arrayValue ?? []
                #expect(messages.first?["role"] == "system")
                let assistant = messages.first { $0["role"] == "assistant" }
                #expect(assistant?["tool_calls"]?[0]?["function"]?["name"] == "current_time")
                let tool = messages.first { $0["role"] == "tool" }
                #expect(tool?["tool_call_id"]?.stringValue == call["id"] as? String)
                #expect(tool?["content"]?.stringValue?.contains("Europe/Paris") == true)
                #expect(second["stream_options"]?["include_usage"] == true)
                #expect(fake.requests[0].headers[.authorization] == "Bearer \(fake.apiKey)")
            case .anthropic:
                let messages = second["messages"]?.arrayValue ?? []
                #expect(messages.map { $0["role"]?.stringValue ?? "" } == ["user", "assistant", "user"])
                #expect(messages[1]["content"]?[0]?["type"] == "tool_use")
                let block = messages[2]["content"]?[0]
                #expect(block?["type"] == "tool_result")
                #expect(block?["tool_use_id"]?.stringValue == call["id"] as? String)
                // Prompt caching: the system prompt and the last tool are cache breakpoints.
                #expect(second["system"]?[0]?["cache_control"]?["type"] == "ephemeral")
                let tools = second["tools"]?.arrayValue ?? []
                #expect(tools.last?["cache_control"]?["type"] == "ephemeral")
                #expect(fake.requests[0].headers[.init("x-api-key")!] == fake.apiKey)
                #expect(fake.requests[0].headers[.init("anthropic-version")!] == "2023-06-01")
            case .gemini:
                let contents = second["contents"]?.arrayValue ?? []
                #expect(contents.map { $0["role"]?.stringValue ?? "" } == ["user", "model", "user"])
                let part = contents[1]["parts"]?[0]
                #expect(part?["functionCall"]?["name"] == "current_time")
                #expect(part?["thoughtSignature"]?.stringValue == GeminiWire.signature, "the thought signature goes back where it came from")
                #expect(contents[2]["parts"]?[0]?["functionResponse"]?["name"] == "current_time")
                #expect(second["systemInstruction"]?["parts"]?[0]?["text"]?.stringValue?.isEmpty == false)
                #expect(second["tools"]?[0]?["functionDeclarations"]?[0]?["parametersJsonSchema"]?["type"] == "object")
                #expect(fake.requests[0].path.hasSuffix(":streamGenerateContent?alt=sse"))
                #expect(fake.requests[0].headers[.init("x-goog-api-key")!] == fake.apiKey)
            }
        }
    }

    @Test("Parallel tool calls run together and their results go back together", arguments: FakeProvider.Kind.allCases)
    func parallelTools(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("current_time", #"{"timezone": "Europe/Paris"}"#), FakeCall("current_time", #"{"timezone": "Asia/Tokyo"}"#)],
                       text: "Let me check both clocks."),
            .text("Paris and Tokyo, done."),
        ])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Time in Paris and Tokyo?", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            let stored = try await app.messages(conversation, token: user.access)
            #expect(stored.map(\.role) == ["user", "assistant", "tool", "tool", "assistant"])
            #expect(stored[1].text == "Let me check both clocks.")
            #expect(stored[1].toolCalls.count == 2)
            let zones = Set(stored[2...3].compactMap { ($0.toolResults.first?["content"] as? [String: Any])?["timezone"] as? String })
            #expect(zones == ["Europe/Paris", "Asia/Tokyo"])

            let second = fake.requests[1].body
            switch kind {
            case .openai:
                let tools = (second["messages"]?.arrayValue ?? []).filter { $0["role"] == "tool" }
                #expect(tools.count == 2)
                #expect((second["messages"]?.arrayValue ?? []).first { $0["role"] == "assistant" }?["tool_calls"]?.arrayValue?.count == 2)
            case .anthropic:
                let last = second["messages"]?.arrayValue?.last
                #expect(last?["role"] == "user")
                #expect(last?["content"]?.arrayValue?.filter { $0["type"] == "tool_result" }.count == 2)
            case .gemini:
                let last = second["contents"]?.arrayValue?.last
                #expect(last?["parts"]?.arrayValue?.filter { $0["functionResponse"] != nil }.count == 2)
                let model = second["contents"]?[1]?["parts"]?.arrayValue ?? []
                #expect(model.filter { $0["functionCall"] != nil }.count == 2)
            }
        }
    }

    @Test("A failing tool and bad arguments become error results the model reads, and the turn goes on", arguments: FakeProvider.Kind.allCases)
    func failingTool(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("current_time", #"{"timezone": "Mars/Olympus_Mons"}"#), FakeCall("current_time", #"{"timezone": 5}"#),
                        FakeCall("launch_rockets", #"{}"#)]),
            .text("Sorry, I could not tell."),
        ])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Time on Mars?", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            let results = try await app.messages(conversation, token: user.access).filter { $0.role == "tool" }.compactMap(\.toolResults.first)
            #expect(results.count == 3)
            #expect(results.allSatisfy { $0["is_error"] as? Bool == true })
            let errors = results.compactMap { ($0["content"] as? [String: Any])?["error"] as? String }
            #expect(errors.contains { $0.contains("Unknown time zone 'Mars/Olympus_Mons'") })
            #expect(errors.contains { $0.contains("Invalid arguments: timezone: must be a string") })
            #expect(errors.contains { $0.contains("There is no tool named 'launch_rockets'") })
            if kind == .anthropic {
                let blocks = fake.requests[1].body["messages"]?.arrayValue?.last?["content"]?.arrayValue ?? []
                #expect(blocks.allSatisfy { $0["is_error"] == true })
            }
        }
    }

    @Test("The iteration limit ends the turn with a message saying so", arguments: FakeProvider.Kind.allCases)
    func iterationLimit(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("current_time")]), .toolCalls([FakeCall("current_time")]), .toolCalls([FakeCall("current_time")]),
        ])
        var agent = AgentDefinition.assistant
        agent.maxIterations = 2
        try await TestApp.withFakes([fake], agents: [agent]) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Loop for ever", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            let message = reply["message"] as? [String: Any] ?? [:]
            #expect(message["finish_reason"] as? String == "iteration_limit")
            #expect(message.text.contains("limit of 2 tool-using steps"))
            #expect(fake.requests.count == 2)
        }
    }

    @Test("429 and 5xx are retried on the same model, then it answers", arguments: FakeProvider.Kind.allCases)
    func retryThenSuccess(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [.status(429, headers: ["retry-after": "0"]), .status(503), .text("Third time lucky.")])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Hello", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            #expect((reply["message"] as? [String: Any])?.text == "Third time lucky.", "\(reply.text)")
            #expect(fake.requests.count == 3)
        }
    }

    @Test("A model that keeps failing hands the turn to its fallback", arguments: FakeProvider.Kind.allCases)
    func fallback(kind: FakeProvider.Kind) async throws {
        let primary = try await FakeProvider.start(kind, [.status(500), .status(500), .status(500)])
        let backup = try await FakeProvider.start(kind, [.text("The backup answers.")])
        let models = [primary.model("primary", fallbacks: ["backup"]), backup.model("backup")]
        try await TestApp.withFakes([primary, backup], models: models) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Hello", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            let message = reply["message"] as? [String: Any] ?? [:]
            #expect(message.text == "The backup answers.")
            #expect(message["model"] as? String == "backup")
            #expect(primary.requests.count == 3)
            #expect(backup.requests.count == 1)
        }
    }
}
