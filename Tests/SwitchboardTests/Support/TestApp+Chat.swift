import Agents
import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import LLM
import Testing

extension Settings {
    /// Chat against the given models (the first is the default), with retries that wait milliseconds, not seconds.
    mutating func useModels(_ models: [ModelConfig], agents: [AgentDefinition] = [.assistant]) {
        self.models = models
        defaultModel = models[0].name
        self.agents = agents
        defaultAgent = agents[0].name
        retry.baseBackoff = .milliseconds(5)
        retry.maxBackoff = .milliseconds(20)
    }
}

extension TestApp {
    /// Runs `body` with a server whose models are the fakes given (the first is the default).
    static func withFakes(_ fakes: [FakeProvider], models: [ModelConfig]? = nil, agents: [AgentDefinition] = [.assistant],
                          testing: TestingSetup = .router, customize: @escaping (inout Settings) -> Void = { _ in },
                          _ body: @Sendable (TestApp) async throws -> Void) async throws {
        do {
            try await run(testing, customize: { settings in
                settings.useModels(models ?? fakes.enumerated().map { $1.model("model\($0)") }, agents: agents)
                customize(&settings)
            }, body)
        } catch {
            for fake in fakes { await fake.stop() }
            throw error
        }
        for fake in fakes { await fake.stop() }
    }

    /// A new conversation of the user with `token`; its id.
    func conversation(_ token: String, title: String? = nil) async throws -> String {
        var body: [String: Any] = [:]
        if let title { body["title"] = title }
        let reply = try await request(.post, "/api/v1/conversations", json: body, token: token)
        try #require(reply.status == 201, "create conversation: \(reply.text)")
        return reply["id"] as? String ?? ""
    }

    /// One turn as JSON.
    func send(_ conversation: String, _ content: String, token: String, extra: [String: Any] = [:]) async throws -> Reply {
        try await request(.post, "/api/v1/conversations/\(conversation)/messages",
                          json: extra.merging(["content": content]) { $1 }, token: token)
    }

    /// Every stored message of the conversation, oldest first.
    func messages(_ conversation: String, token: String) async throws -> [[String: Any]] {
        let reply = try await request(.get, "/api/v1/conversations/\(conversation)/messages?per_page=100", token: token)
        try #require(reply.status == 200, "messages: \(reply.text)")
        return reply["items"] as? [[String: Any]] ?? []
    }

    /// Checks that the messages a turn's events carried (`message.completed`, `tool.result`) are, field for field, the
    /// stored messages the REST API returns: the events write them by hand, the API through the generated code.
    func expectEventsMatchStoredMessages(_ events: [ReceivedEvent], conversation: String, token: String,
                                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let reply = try await request(.get, "/api/v1/conversations/\(conversation)/messages?per_page=100", token: token)
        let stored = try #require(JSONValue.parse(reply.text)?["items"]?.arrayValue, sourceLocation: sourceLocation)
        let carried = events.filter { $0.name == "message.completed" || $0.name == "tool.result" }.map(\.data)
        #expect(!carried.isEmpty, sourceLocation: sourceLocation)
        for message in carried {
            let match = stored.first { $0["id"] == message["id"] }
            #expect(match == message, "event \(message.jsonString) stored \(match?.jsonString ?? "none")", sourceLocation: sourceLocation)
        }
    }
}

/// Reading message objects.
extension Dictionary where Key == String, Value == Any {
    var role: String? { self["role"] as? String }
    var status: String? { self["status"] as? String }
    var parts: [[String: Any]] { self["content"] as? [[String: Any]] ?? [] }
    var text: String { parts.filter { $0["type"] as? String == "text" }.compactMap { $0["text"] as? String }.joined() }
    var toolCalls: [[String: Any]] { parts.filter { $0["type"] as? String == "tool_call" } }
    var toolResults: [[String: Any]] { parts.filter { $0["type"] as? String == "tool_result" } }
    var usage: [String: Any] { self["usage"] as? [String: Any] ?? [:] }
}
