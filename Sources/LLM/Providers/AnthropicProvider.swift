import AsyncHTTPClient
import Foundation

/// Anthropic Messages (`POST {base}/v1/messages`). The system prompt and the tool list carry `cache_control`, so a
/// conversation's long, unchanging prefix is read from Anthropic's prompt cache after its first turn.
struct AnthropicProvider: ModelProvider {
    static let apiVersion = "2023-06-01"
    let config: ModelConfig
    let http: ProviderHTTP
    let baseURL: String
    var providerName: String { "anthropic" }

    init(config: ModelConfig, client: HTTPClient) {
        self.config = config
        self.http = ProviderHTTP(client: client, redactor: Redactor(secrets: [config.apiKey].compactMap { $0 }))
        self.baseURL = (config.baseURL ?? "https://api.anthropic.com").trimmingSuffix("/")
    }

    func shutdown() async { try? await http.client.shutdown() }

    func stream(_ request: ChatRequest) async throws -> AsyncThrowingStream<ModelEvent, any Error> {
        http.modelEvents(try await post(request, stream: true), decoder: StreamDecoder())
    }

    func complete(_ request: ChatRequest) async throws -> ModelResponse {
        let body = try await http.json(try await post(request, stream: false))
        if body["type"]?.stringValue == "error" { throw Self.inBandError(body["error"], redactor: http.redactor) }
        var parts: [Part] = []
        for block in body["content"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "text":
                if let text = block["text"]?.stringValue, !text.isEmpty { parts.append(.text(text)) }
            case "tool_use":
                parts.append(.toolCall(ToolCall(id: block["id"]?.stringValue ?? "", name: block["name"]?.stringValue ?? "",
                                                arguments: block["input"] ?? .object([:]))))
            default:
                continue
            }
        }
        let message = ChatMessage(role: .assistant, parts: parts)
        let reason = Self.finishReason(body["stop_reason"]?.stringValue) ?? .stop
        return ModelResponse(message: message, usage: Self.usage(body["usage"]), finishReason: message.toolCalls.isEmpty ? reason : .toolCalls)
    }

    private func post(_ request: ChatRequest, stream: Bool) async throws -> HTTPClientResponse {
        var headers: [(String, String)] = [("anthropic-version", Self.apiVersion)]
        if let key = config.apiKey { headers.append(("x-api-key", key)) }
        return try await http.post(baseURL + "/v1/messages", headers: headers, body: body(request, stream: stream).jsonBytes) { status, json, text in
            let error = json?["error"]
            let kind: ProviderError.Kind? = switch error?["type"]?.stringValue {
            case "overloaded_error": .unavailable
            case "rate_limit_error": .rateLimited
            case "request_too_large": .badRequest
            default: nil
            }
            return (kind, error?["message"]?.stringValue ?? text, nil)
        }
    }

    func body(_ request: ChatRequest, stream: Bool) -> JSONValue {
        // Anthropic has two roles: tool results travel in user messages. Consecutive messages of one role are merged,
        // so the results of parallel calls arrive together, right after the assistant message that asked for them.
        var messages: [(role: String, content: [JSONValue])] = []
        for message in request.messages {
            var content: [JSONValue] = []
            let role = message.role == .assistant ? "assistant" : "user"
            for part in message.parts {
                switch part {
                case .text(let text) where !text.isEmpty:
                    content.append(["type": "text", "text": .string(text)])
                case .text:
                    continue
                case .toolCall(let call):
                    content.append(["type": "tool_use", "id": .string(call.id), "name": .string(call.name),
                                    "input": call.arguments.objectValue.map(JSONValue.object) ?? .object([:])])
                case .toolResult(let result):
                    var block: [String: JSONValue] = ["type": "tool_result", "tool_use_id": .string(result.callID),
                                                      "content": .string(result.content.textForModel)]
                    if result.isError { block["is_error"] = true }
                    content.append(.object(block))
                }
            }
            guard !content.isEmpty else { continue }
            if let last = messages.last, last.role == role {
                messages[messages.count - 1].content += content
            } else {
                messages.append((role, content))
            }
        }
        var body: [String: JSONValue] = [
            "model": .string(config.model),
            "max_tokens": .int(Int64(request.maxOutputTokens ?? config.maxOutputTokens ?? 4096)),
            "messages": .array(messages.map { ["role": .string($0.role), "content": .array($0.content)] }),
        ]
        var system = request.system.filter { !$0.text.isEmpty }
        // Messages has no schema-constrained output: the schema is asked for in words, and the caller validates.
        if let output = request.output {
            system.append(SystemBlock(output.instruction, cacheable: false))
        }
        if !system.isEmpty {
            // One breakpoint, at the end of the leading cacheable blocks: Anthropic caches the whole prefix before it.
            let cached = system.prefix { $0.cacheable }.count
            body["system"] = .array(system.enumerated().map { index, block in
                var part: [String: JSONValue] = ["type": "text", "text": .string(block.text)]
                if index == cached - 1 { part["cache_control"] = ["type": "ephemeral"] }
                return .object(part)
            })
        }
        if !request.tools.isEmpty {
            var tools: [JSONValue] = request.tools.map { tool in
                ["name": .string(tool.name), "description": .string(tool.description), "input_schema": tool.parameters]
            }
            if case .object(var last) = tools[tools.count - 1] {
                last["cache_control"] = ["type": "ephemeral"]
                tools[tools.count - 1] = .object(last)
            }
            body["tools"] = .array(tools)
        }
        if let temperature = request.temperature ?? config.temperature { body["temperature"] = .double(temperature) }
        if stream { body["stream"] = true }
        return .object(body)
    }

    /// Turns Messages stream events into ours. Usage is split: input counts in `message_start`, the output count
    /// (cumulative) in `message_delta`.
    struct StreamDecoder: StreamDecoding {
        var usage = Usage.zero
        var finishReason: FinishReason?
        var toolBlocks: Set<Int> = []
        var isDone = false

        mutating func decode(data: String, redactor: Redactor) throws -> [ModelEvent] {
            guard let event = JSONValue.parse(data) else { return [] }
            return try decode(event, redactor: redactor)
        }

        mutating func decode(_ event: JSONValue, redactor: Redactor) throws -> [ModelEvent] {
            switch event["type"]?.stringValue {
            case "message_start":
                usage = AnthropicProvider.usage(event["message"]?["usage"])
                return [.usage(usage)]
            case "content_block_start":
                let index = event["index"]?.intValue ?? 0
                let block = event["content_block"]
                switch block?["type"]?.stringValue {
                case "text":
                    if let text = block?["text"]?.stringValue, !text.isEmpty { return [.textDelta(text)] }
                case "tool_use":
                    toolBlocks.insert(index)
                    var events: [ModelEvent] = [.toolCallStart(index: index, id: block?["id"]?.stringValue ?? "",
                                                               name: block?["name"]?.stringValue ?? "")]
                    if let input = block?["input"], input.objectValue?.isEmpty == false {
                        events.append(.toolCallArguments(index: index, fragment: input.jsonString))
                    }
                    return events
                default:
                    break
                }
                return []
            case "content_block_delta":
                let index = event["index"]?.intValue ?? 0
                let delta = event["delta"]
                switch delta?["type"]?.stringValue {
                case "text_delta":
                    if let text = delta?["text"]?.stringValue, !text.isEmpty { return [.textDelta(text)] }
                case "input_json_delta":
                    if toolBlocks.contains(index), let fragment = delta?["partial_json"]?.stringValue, !fragment.isEmpty {
                        return [.toolCallArguments(index: index, fragment: fragment)]
                    }
                default:
                    break
                }
                return []
            case "message_delta":
                if let reason = AnthropicProvider.finishReason(event["delta"]?["stop_reason"]?.stringValue) { finishReason = reason }
                if let delta = event["usage"] {
                    let later = AnthropicProvider.usage(delta)
                    usage.outputTokens = max(usage.outputTokens, later.outputTokens)
                    if later.inputTokens > 0 {
                        usage.inputTokens = max(usage.inputTokens, later.inputTokens)
                        usage.cachedInputTokens = max(usage.cachedInputTokens, later.cachedInputTokens)
                        usage.cacheWriteTokens = max(usage.cacheWriteTokens, later.cacheWriteTokens)
                    }
                    return [.usage(usage)]
                }
                return []
            case "message_stop":
                isDone = true
                return []
            case "error":
                throw AnthropicProvider.inBandError(event["error"], redactor: redactor)
            default:
                return [] // ping, content_block_stop, and event types added later
            }
        }

        func finish() throws -> [ModelEvent] {
            guard let finishReason else {
                throw ProviderError(.interrupted, message: "The stream ended before the response did.")
            }
            return [.finish(finishReason)]
        }
    }

    static func finishReason(_ text: String?) -> FinishReason? {
        switch text {
        case "end_turn", "stop_sequence", "pause_turn": .stop
        case "tool_use": .toolCalls
        case "max_tokens", "model_context_window_exceeded": .length
        case "refusal": .contentFilter
        case nil: nil
        default: .stop
        }
    }

    /// `input_tokens` excludes the cached part: ours counts every prompt token.
    static func usage(_ json: JSONValue?) -> Usage {
        guard let json else { return .zero }
        let read = Usage.count(json["cache_read_input_tokens"])
        let written = Usage.count(json["cache_creation_input_tokens"])
        return Usage(inputTokens: Usage.count(json["input_tokens"]) + read + written,
                     outputTokens: Usage.count(json["output_tokens"]), cachedInputTokens: read, cacheWriteTokens: written)
    }

    static func inBandError(_ error: JSONValue?, redactor: Redactor) -> ProviderError {
        let message = redactor.clean(error?["message"]?.stringValue ?? "The provider reported an error.")
        let kind: ProviderError.Kind = switch error?["type"]?.stringValue {
        case "rate_limit_error": .rateLimited
        case "overloaded_error", "api_error": .unavailable
        case "invalid_request_error": ProviderError.mentionsContextLength(message) ? .contextLength : .badRequest
        case "authentication_error", "permission_error": .authentication
        case "not_found_error": .notFound
        default: .unavailable
        }
        return ProviderError(kind, message: message)
    }
}
