import Foundation

/// Scripted replies for demos and frontend work: no network, no key, predictable output. Every message it writes
/// says `provider: mock`, so nobody mistakes it for a real model.
///
/// A script (JSON) is a list of turns. The turn whose `match` occurs in the user's latest message answers (case
/// insensitive; a turn without `match` is the fallback); its `replies` are used one per model call within that
/// turn, so a reply with `tool_calls` is followed, once the tools have run, by the next reply:
///
///     {"chunk_delay_ms": 25,
///      "turns": [
///        {"match": "time", "replies": [
///          {"tool_calls": [{"name": "current_time", "arguments": {}}]},
///          {"text": "The clock says {{tool_result}}."}]},
///        {"replies": [{"text": "You said: {{user_message}}"}]}]}
///
/// A reply may also hold `delay_ms` (before its first token), `chunk_delay_ms`, and `error` (`{status, message}`)
/// to rehearse failures. `{{user_message}}`, `{{tool_result}}` and `{{tool_result.<field>}}` (one field of the latest
/// tool result) are replaced in texts and string arguments. A turn
/// with `"output": "<name>"` answers only the calls that ask for that output format (a router's `agent_choice`, plan
/// mode's `execution_plan`, `user_facts`), and those calls are answered by such turns first.
public struct MockScript: Sendable, Hashable {
    public struct Reply: Sendable, Hashable {
        var text: String?
        var toolCalls: [(name: String, arguments: JSONValue)]
        var delayMillis: Int
        var chunkDelayMillis: Int?
        var error: (status: Int, message: String)?

        public static func == (lhs: Reply, rhs: Reply) -> Bool { lhs.text == rhs.text && lhs.delayMillis == rhs.delayMillis }
        public func hash(into hasher: inout Hasher) { hasher.combine(text) }
    }

    struct Turn: Sendable, Hashable {
        var match: String?
        /// The output format's name this turn answers; nil: calls that ask for none (or for one no turn names).
        var output: String?
        var replies: [Reply]
    }

    var turns: [Turn]
    var chunkDelayMillis: Int

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(json: JSONValue) throws {
        guard let turns = json["turns"]?.arrayValue, !turns.isEmpty else { throw Invalid(description: "a script needs a non-empty \"turns\" list") }
        chunkDelayMillis = json["chunk_delay_ms"]?.intValue ?? 20
        self.turns = try turns.enumerated().map { index, turn in
            guard let replies = turn["replies"]?.arrayValue, !replies.isEmpty else {
                throw Invalid(description: "turns[\(index)] needs a non-empty \"replies\" list")
            }
            return Turn(match: turn["match"]?.stringValue?.lowercased(), output: turn["output"]?.stringValue, replies: try replies.enumerated().map { position, reply in
                let calls = try (reply["tool_calls"]?.arrayValue ?? []).map { call -> (String, JSONValue) in
                    guard let name = call["name"]?.stringValue else {
                        throw Invalid(description: "turns[\(index)].replies[\(position)]: every tool call needs a \"name\"")
                    }
                    return (name, call["arguments"] ?? .object([:]))
                }
                let error = reply["error"].map { ($0["status"]?.intValue ?? 500, $0["message"]?.stringValue ?? "Scripted failure.") }
                guard reply["text"]?.stringValue != nil || !calls.isEmpty || error != nil else {
                    throw Invalid(description: "turns[\(index)].replies[\(position)] needs \"text\", \"tool_calls\" or \"error\"")
                }
                return Reply(text: reply["text"]?.stringValue, toolCalls: calls, delayMillis: reply["delay_ms"]?.intValue ?? 0,
                             chunkDelayMillis: reply["chunk_delay_ms"]?.intValue, error: error)
            })
        }
    }

    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Invalid(description: "cannot read \(path)") }
        guard let json = JSONValue.parse(data) else { throw Invalid(description: "\(path) is not JSON") }
        try self.init(json: json)
    }

    /// What the demo model says when no script is configured.
    public static let demo = try! MockScript(json: [
        "chunk_delay_ms": 15,
        "turns": [
            ["match": "time", "replies": [
                ["tool_calls": [["name": "current_time", "arguments": [:]]]],
                ["text": "I asked the clock tool. It answered: {{tool_result}}"],
            ]],
            ["replies": [
                ["text": "Hello from Switchboard's mock model: I answer from a script, not a real model. Configure a model with provider openai, anthropic or gemini for real answers. Ask me the time to see a tool call. You said: {{user_message}}"],
            ]],
        ],
    ])

    /// The reply for this point of the conversation: the matching turn's reply for the number of model calls made
    /// since the user's latest message.
    func reply(for request: ChatRequest) -> Reply {
        let lastUser = request.messages.lastIndex { $0.role == .user }
        let userText = lastUser.map { request.messages[$0].text.lowercased() } ?? ""
        let step = lastUser.map { request.messages[($0 + 1)...].filter { $0.role == .assistant }.count } ?? 0
        let named = turns.filter { $0.output != nil && $0.output == request.output?.name }
        let candidates = named.isEmpty ? turns.filter { $0.output == nil } : named
        let turn = candidates.first { $0.match.map(userText.contains) ?? false } ?? candidates.first { $0.match == nil } ?? candidates.first ?? turns[0]
        guard step < turn.replies.count else {
            return Reply(text: "(The mock script has no more replies for this turn.)", toolCalls: [], delayMillis: 0)
        }
        return turn.replies[step]
    }
}

struct MockProvider: ModelProvider {
    let config: ModelConfig
    let script: MockScript
    var providerName: String { "mock" }

    func shutdown() async {}

    /// The longest a reply's text takes to stream, whatever its length.
    static let maxStreamMillis = 2_000

    func stream(_ request: ChatRequest) async throws -> AsyncThrowingStream<ModelEvent, any Error> {
        let reply = script.reply(for: request)
        if reply.delayMillis > 0 { try await Task.sleep(for: .milliseconds(reply.delayMillis)) }
        if let error = reply.error {
            throw ProviderError(ProviderError.kind(status: error.status), status: error.status, message: error.message)
        }
        let events = self.events(for: reply, request: request)
        // Word by word at the script's pace, but never longer than `maxStreamMillis` in all: a reply that echoes a
        // long message (`{{user_message}}`) must not hold a request for minutes.
        let deltas = events.reduce(0) { count, event in if case .textDelta = event { count + 1 } else { count } }
        let delay = Duration.milliseconds(min(reply.chunkDelayMillis ?? script.chunkDelayMillis, Self.maxStreamMillis / max(1, deltas)))
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for event in events {
                        if case .textDelta = event, delay > .zero { try await Task.sleep(for: delay) }
                        continuation.yield(event)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func complete(_ request: ChatRequest) async throws -> ModelResponse {
        var assembler = ResponseAssembler()
        for try await event in try await stream(request) { assembler.add(event) }
        return assembler.response
    }

    private func events(for reply: MockScript.Reply, request: ChatRequest) -> [ModelEvent] {
        let userText = request.messages.last { $0.role == .user }?.text ?? ""
        let result = request.messages.last { $0.role == .tool }?.toolResults.last?.content
        let resultText = result?.textForModel ?? ""
        func fill(_ text: String) -> String {
            var rest = Substring(text.replacingOccurrences(of: "{{user_message}}", with: userText)
                .replacingOccurrences(of: "{{tool_result}}", with: resultText))
            // {{tool_result.<field>}}: one field of the result (text as it is); what a value holds is not scanned again.
            var filled = ""
            while let open = rest.range(of: "{{tool_result."), let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) {
                filled += rest[..<open.lowerBound]
                filled += result?[String(rest[open.upperBound..<close.lowerBound])].map { $0.stringValue ?? $0.jsonString } ?? ""
                rest = rest[close.upperBound...]
            }
            return filled + rest
        }
        func fill(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let text): .string(fill(text))
            case .array(let values): .array(values.map(fill))
            case .object(let object): .object(object.mapValues(fill))
            default: value
            }
        }
        var events: [ModelEvent] = []
        var output = ""
        if let text = reply.text.map(fill) {
            output = text
            // Word by word, spaces kept, the way a real model streams.
            var word = ""
            for character in text {
                word.append(character)
                if character == " " {
                    events.append(.textDelta(word))
                    word = ""
                }
            }
            if !word.isEmpty { events.append(.textDelta(word)) }
        }
        for (index, call) in reply.toolCalls.enumerated() {
            let arguments = fill(call.arguments).jsonString
            output += arguments
            events.append(.toolCallStart(index: index, id: "call_mock_\(UUID().uuidString.prefix(12).lowercased())", name: call.name))
            events.append(.toolCallArguments(index: index, fragment: arguments))
        }
        // Rough counts (four characters a token), so that usage and quotas can be tried out on the mock too.
        let prompt = request.system.reduce(0) { $0 + $1.text.count } + request.messages.reduce(0) { $0 + $1.text.count + $1.toolResults.reduce(0) { $0 + $1.content.jsonString.count } }
        events.append(.usage(Usage(inputTokens: max(1, prompt / 4), outputTokens: max(1, output.count / 4))))
        events.append(.finish(reply.toolCalls.isEmpty ? .stop : .toolCalls))
        return events
    }
}
