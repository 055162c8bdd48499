import AsyncHTTPClient
import Foundation

/// OpenAI Chat Completions (`POST {base}/chat/completions`), which every OpenAI-compatible server also speaks.
struct OpenAIProvider: ModelProvider {
    let config: ModelConfig
    let http: ProviderHTTP
    let baseURL: String
    var providerName: String { "openai" }

    init(config: ModelConfig, client: HTTPClient) {
        self.config = config
        self.http = ProviderHTTP(client: client, redactor: Redactor(secrets: [config.apiKey].compactMap { $0 }))
        self.baseURL = (config.baseURL ?? "https://api.openai.com/v1").trimmingSuffix("/")
    }

    func shutdown() async { try? await http.client.shutdown() }

    func stream(_ request: ChatRequest) async throws -> AsyncThrowingStream<ModelEvent, any Error> {
        http.modelEvents(try await post(request, stream: true), decoder: StreamDecoder())
    }

    func complete(_ request: ChatRequest) async throws -> ModelResponse {
        let body = try await http.json(try await post(request, stream: false))
        if let error = body["error"], !error.isNull { throw Self.inBandError(error, redactor: http.redactor) }
        guard let choice = body["choices"]?[0], let message = choice["message"] else {
            throw ProviderError(.malformed, message: "The response has no choices.")
        }
        var parts: [Part] = []
        if let text = message["content"]?.stringValue, !text.isEmpty { parts.append(.text(text)) }
        for call in message["tool_calls"]?.arrayValue ?? [] {
            let raw = call["function"]?["arguments"]?.stringValue ?? ""
            let arguments = raw.trimmingCharacters(in: .whitespaces).isEmpty ? .object([:]) : (JSONValue.parse(raw) ?? .string(raw))
            parts.append(.toolCall(ToolCall(id: call["id"]?.stringValue ?? "", name: call["function"]?["name"]?.stringValue ?? "",
                                            arguments: arguments)))
        }
        let assembled = ChatMessage(role: .assistant, parts: parts)
        let reason = Self.finishReason(choice["finish_reason"]?.stringValue) ?? .stop
        return ModelResponse(message: assembled, usage: Self.usage(body["usage"]),
                             finishReason: assembled.toolCalls.isEmpty ? reason : .toolCalls)
    }

    private func post(_ request: ChatRequest, stream: Bool) async throws -> HTTPClientResponse {
        var headers: [(String, String)] = []
        if let key = config.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
        return try await http.post(baseURL + "/chat/completions", headers: headers, body: body(request, stream: stream)) { _, json, text in
            let error = json?["error"]
            let message = error?["message"]?.stringValue ?? error?.stringValue ?? text
            let code = error?["code"]?.stringValue ?? error?["type"]?.stringValue
            let kind: ProviderError.Kind? = switch code {
            case "context_length_exceeded": .contextLength
            case "insufficient_quota": .authentication
            default: nil
            }
            return (kind, message, nil)
        }
    }

    /// The request as JSON, written straight into bytes, byte for byte what the same members as a `JSONValue` would
    /// write (keys sorted): made as a value, a turn's history (up to 100 messages) became a dictionary for every message
    /// and tool call, each hashed to build and sorted again to write, twice a tool turn. Each message's entries are
    /// written once and kept with it (`WireForm`), so a request mostly copies the history's bytes; each tool's too.
    func body(_ request: ChatRequest, stream: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        func raw(_ text: String) { JSONValue.appendUTF8(text, into: &out) }
        func string(_ text: String) { JSONValue.quote(text, into: &out) }
        var first = true
        func member(_ name: String) {
            raw(first ? "{\"" : ",\"")
            first = false
            raw(name)
            raw("\":")
        }
        if let max = request.maxOutputTokens ?? config.maxOutputTokens {
            // OpenAI's own API wants max_completion_tokens (its reasoning models refuse max_tokens); compatible servers
            // (vLLM, Ollama, Groq...) know max_tokens.
            member(config.baseURL == nil || baseURL.contains("api.openai.com") ? "max_completion_tokens" : "max_tokens")
            JSONValue.int(Int64(max)).write(to: &out)
        }
        member("messages")
        raw("[")
        var firstMessage = true
        // OpenAI caches long prompt prefixes by itself: the blocks, stable ones first, make one system message.
        let system = request.system.map(\.text).filter { !$0.isEmpty }.joined(separator: "\n\n")
        if !system.isEmpty {
            raw(#"{"content":"#)
            string(system)
            raw(#","role":"system"}"#)
            firstMessage = false
        }
        for chat in request.messages {
            let entries = chat.wireForm.bytes(.openAIChat) { Self.entries(chat) }
            if entries.isEmpty { continue }
            if !firstMessage { out.append(UInt8(ascii: ",")) }
            firstMessage = false
            out.append(contentsOf: entries)
        }
        raw("]")
        member("model")
        string(config.model)
        if let output = request.output {
            member("response_format")
            JSONValue.object(["type": "json_schema", "json_schema": ["name": .string(output.name), "schema": output.schema, "strict": true]])
                .write(to: &out)
        }
        if stream {
            member("stream")
            raw("true")
            member("stream_options")
            raw(#"{"include_usage":true}"#)
        }
        if let temperature = request.temperature ?? config.temperature {
            member("temperature")
            JSONValue.double(temperature).write(to: &out)
        }
        if !request.tools.isEmpty {
            member("tools")
            for (index, tool) in request.tools.enumerated() {
                out.append(index == 0 ? UInt8(ascii: "[") : UInt8(ascii: ","))
                out.append(contentsOf: tool.wireForm.bytes(.openAIChat) {
                    JSONValue.object(["type": "function", "function": ["name": .string(tool.name), "description": .string(tool.description),
                                                                       "parameters": tool.parameters]]).jsonBytes
                })
            }
            raw("]")
        }
        raw("}")
        return out
    }

    /// A message as `messages` entries, comma-separated: a tool message is an entry a result, and none without one.
    static func entries(_ chat: ChatMessage) -> [UInt8] {
        var out: [UInt8] = []
        func raw(_ text: String) { JSONValue.appendUTF8(text, into: &out) }
        func string(_ text: String) { JSONValue.quote(text, into: &out) }
        switch chat.role {
        case .user:
            raw(#"{"content":"#)
            string(chat.text)
            raw(#","role":"user"}"#)
        case .assistant:
            raw(#"{"content":"#)
            let text = chat.text
            if text.isEmpty { raw("null") } else { string(text) }
            raw(#","role":"assistant""#)
            let calls = chat.toolCalls
            if !calls.isEmpty {
                raw(#","tool_calls":["#)
                for (index, call) in calls.enumerated() {
                    raw(index == 0 ? #"{"function":{"arguments":"# : #",{"function":{"arguments":"#)
                    string(call.arguments.jsonString)
                    raw(#","name":"#)
                    string(call.name)
                    raw(#"},"id":"#)
                    string(call.id)
                    raw(#","type":"function"}"#)
                }
                raw("]")
            }
            raw("}")
        case .tool:
            for (index, result) in chat.toolResults.enumerated() {
                raw(index == 0 ? #"{"content":"# : #",{"content":"#)
                string(result.content.textForModel)
                raw(#","role":"tool","tool_call_id":"#)
                string(result.callID)
                raw("}")
            }
        }
        return out
    }

    /// Turns `chat.completion.chunk`s into events. Tool calls arrive as fragments keyed by `index`: the first carries
    /// the id and name, the rest pieces of the arguments. Usage comes in a last chunk with no choices.
    struct StreamDecoder: StreamDecoding {
        var started: Set<Int> = []
        var finishReason: FinishReason?
        var usage: Usage?
        var isDone = false

        mutating func decode(data: String, redactor: Redactor) throws -> [ModelEvent] {
            if Self.isDoneMarker(data) {
                isDone = true
                return []
            }
            guard let chunk = JSONValue.parse(data) else { throw ProviderError(.malformed, message: "A streamed chunk is not JSON.") }
            return try decode(chunk, redactor: redactor)
        }

        /// `[DONE]`, with any spaces or tabs around it. Checked on every chunk, so by bytes: Foundation's trimming
        /// goes through `NSString` and cost about 2% of a busy server's time.
        static func isDoneMarker(_ data: String) -> Bool {
            let bytes = data.utf8.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }
            return bytes.elementsEqual("[DONE]".utf8.reversed())
        }

        mutating func decode(_ chunk: JSONValue, redactor: Redactor) throws -> [ModelEvent] {
            if let error = chunk["error"], !error.isNull { throw OpenAIProvider.inBandError(error, redactor: redactor) }
            var events: [ModelEvent] = []
            if let usage = chunk["usage"], !usage.isNull { self.usage = OpenAIProvider.usage(usage) }
            for choice in chunk["choices"]?.arrayValue ?? [] where (choice["index"]?.intValue ?? 0) == 0 {
                let delta = choice["delta"]
                if let text = delta?["content"]?.stringValue, !text.isEmpty { events.append(.textDelta(text)) }
                for (position, call) in (delta?["tool_calls"]?.arrayValue ?? []).enumerated() {
                    let index = call["index"]?.intValue ?? position
                    if !started.contains(index) {
                        started.insert(index)
                        events.append(.toolCallStart(index: index, id: call["id"]?.stringValue ?? "call_\(index)",
                                                     name: call["function"]?["name"]?.stringValue ?? ""))
                    }
                    if let fragment = call["function"]?["arguments"]?.stringValue, !fragment.isEmpty {
                        events.append(.toolCallArguments(index: index, fragment: fragment))
                    }
                }
                if let reason = OpenAIProvider.finishReason(choice["finish_reason"]?.stringValue) { finishReason = reason }
            }
            return events
        }

        /// The usage and finish reason, once the stream has ended; an end without either `[DONE]` or a finish reason
        /// is a stream cut short.
        func finish() throws -> [ModelEvent] {
            guard let finishReason else {
                throw ProviderError(.interrupted, message: isDone ? "The stream ended without a finish reason."
                                                                 : "The stream ended before the response did.")
            }
            return (usage.map { [.usage($0)] } ?? []) + [.finish(started.isEmpty ? finishReason : (finishReason == .stop ? .toolCalls : finishReason))]
        }
    }

    static func finishReason(_ text: String?) -> FinishReason? {
        switch text {
        case "stop": .stop
        case "tool_calls", "function_call": .toolCalls
        case "length": .length
        case "content_filter": .contentFilter
        case nil: nil
        default: .stop
        }
    }

    static func usage(_ json: JSONValue?) -> Usage {
        guard let json else { return .zero }
        return Usage(inputTokens: Usage.count(json["prompt_tokens"]), outputTokens: Usage.count(json["completion_tokens"]),
                     cachedInputTokens: Usage.count(json["prompt_tokens_details"]?["cached_tokens"]),
                     reasoningTokens: Usage.count(json["completion_tokens_details"]?["reasoning_tokens"]))
    }

    /// An `{"error": {...}}` object sent with status 200, in a stream or a body.
    static func inBandError(_ error: JSONValue, redactor: Redactor) -> ProviderError {
        let message = redactor.clean(error["message"]?.stringValue ?? error.stringValue ?? "The provider reported an error.")
        let type = error["code"]?.stringValue ?? error["type"]?.stringValue ?? ""
        let kind: ProviderError.Kind = switch type {
        case "context_length_exceeded": .contextLength
        case "rate_limit_exceeded": .rateLimited
        case "invalid_request_error": ProviderError.mentionsContextLength(message) ? .contextLength : .badRequest
        default: .unavailable
        }
        return ProviderError(kind, message: message)
    }
}

extension JSONValue {
    /// A tool result as text for providers that take text: strings as they are, anything else as JSON.
    var textForModel: String { stringValue ?? jsonString }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
