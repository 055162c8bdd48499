import AsyncHTTPClient
import Foundation

/// Google Gemini: `generateContent` and `streamGenerateContent?alt=sse`, on the Gemini API with an API key or on
/// Vertex AI with a service account's access token. Thought signatures are kept with the parts that carried them and
/// sent back in place, as Gemini requires for multi-step tool use.
struct GeminiProvider: ModelProvider {
    /// Prefix of the call ids we make up when Gemini sends none; those are never sent back to Gemini.
    static let localCallPrefix = "sbcall_"
    let config: ModelConfig
    let http: ProviderHTTP
    let baseURL: String
    let tokens: GoogleAccessTokenSource?
    var providerName: String { tokens == nil ? "gemini" : "vertex" }

    init(config: ModelConfig, client: HTTPClient, tokens: GoogleAccessTokenSource? = nil) {
        self.config = config
        self.http = ProviderHTTP(client: client, redactor: Redactor(secrets: [config.apiKey].compactMap { $0 }))
        self.tokens = tokens
        if let base = config.baseURL {
            baseURL = base.trimmingSuffix("/")
        } else if tokens != nil {
            baseURL = config.vertexLocation == "global" ? "https://aiplatform.googleapis.com"
                : "https://\(config.vertexLocation)-aiplatform.googleapis.com"
        } else {
            baseURL = "https://generativelanguage.googleapis.com"
        }
    }

    func shutdown() async { try? await http.client.shutdown() }

    private func url(_ method: String) -> String {
        if tokens != nil {
            let project = config.vertexProject ?? ""
            return "\(baseURL)/v1/projects/\(project)/locations/\(config.vertexLocation)/publishers/google/models/\(config.model):\(method)"
        }
        return "\(baseURL)/v1beta/models/\(config.model):\(method)"
    }

    func stream(_ request: ChatRequest) async throws -> AsyncThrowingStream<ModelEvent, any Error> {
        http.modelEvents(try await post(url("streamGenerateContent") + "?alt=sse", request), decoder: ResponseDecoder())
    }

    func complete(_ request: ChatRequest) async throws -> ModelResponse {
        let body = try await http.json(try await post(url("generateContent"), request))
        var decoder = ResponseDecoder()
        var assembler = ResponseAssembler()
        for event in try decoder.decode(body, redactor: http.redactor) + decoder.finish() { assembler.add(event) }
        return assembler.response
    }

    private func post(_ url: String, _ request: ChatRequest) async throws -> HTTPClientResponse {
        var headers: [(String, String)] = []
        if let tokens {
            headers.append(("Authorization", "Bearer \(try await tokens.token())"))
        } else if let key = config.apiKey {
            headers.append(("x-goog-api-key", key))
        }
        return try await http.post(url, headers: headers, body: body(request).jsonBytes) { _, json, text in
            let error = json?["error"] ?? json?[0]?["error"]
            return (Self.kind(status: error?["status"]?.stringValue), error?["message"]?.stringValue ?? text, Self.retryDelay(error))
        }
    }

    func body(_ request: ChatRequest) -> JSONValue {
        var contents: [JSONValue] = []
        for message in request.messages {
            var parts: [JSONValue] = []
            for part in message.parts {
                switch part {
                case .text(let text) where !text.isEmpty:
                    var object: [String: JSONValue] = ["text": .string(text)]
                    if let signature = message.textSignature { object["thoughtSignature"] = .string(signature) }
                    parts.append(.object(object))
                case .text:
                    continue
                case .toolCall(let call):
                    var functionCall: [String: JSONValue] = ["name": .string(call.name),
                                                             "args": call.arguments.objectValue.map(JSONValue.object) ?? .object([:])]
                    if !call.id.hasPrefix(Self.localCallPrefix) { functionCall["id"] = .string(call.id) }
                    var object: [String: JSONValue] = ["functionCall": .object(functionCall)]
                    if let signature = call.signature { object["thoughtSignature"] = .string(signature) }
                    parts.append(.object(object))
                case .toolResult(let result):
                    // `response` must be an object: errors and plain values are wrapped.
                    let response: JSONValue = result.isError ? ["error": result.content]
                        : (result.content.objectValue != nil ? result.content : ["result": result.content])
                    var functionResponse: [String: JSONValue] = ["name": .string(result.name), "response": response]
                    if !result.callID.hasPrefix(Self.localCallPrefix) { functionResponse["id"] = .string(result.callID) }
                    parts.append(["functionResponse": .object(functionResponse)])
                }
            }
            guard !parts.isEmpty else { continue }
            let role: JSONValue = message.role == .assistant ? "model" : "user"
            // Results of parallel calls go back together, in one user turn.
            if case .object(var last)? = contents.last, last["role"] == role, case .array(let earlier)? = last["parts"] {
                last["parts"] = .array(earlier + parts)
                contents[contents.count - 1] = .object(last)
            } else {
                contents.append(["role": role, "parts": .array(parts)])
            }
        }
        var body: [String: JSONValue] = ["contents": .array(contents)]
        var system = request.system.filter { !$0.text.isEmpty }
        // Gemini 2.5 refuses a response schema beside function declarations: with tools, the schema is asked for in
        // words (as Anthropic's is), and the caller validates.
        let constrained = request.output.flatMap { request.tools.isEmpty ? $0 : nil }
        if let output = request.output, constrained == nil { system.append(SystemBlock(output.instruction, cacheable: false)) }
        if !system.isEmpty { body["systemInstruction"] = ["parts": .array(system.map { ["text": .string($0.text)] })] }
        if !request.tools.isEmpty {
            body["tools"] = [["functionDeclarations": .array(request.tools.map { tool in
                ["name": .string(tool.name), "description": .string(tool.description), "parametersJsonSchema": tool.parameters]
            })]]
        }
        var generation: [String: JSONValue] = [:]
        if let max = request.maxOutputTokens ?? config.maxOutputTokens { generation["maxOutputTokens"] = .int(Int64(max)) }
        if let temperature = request.temperature ?? config.temperature { generation["temperature"] = .double(temperature) }
        if let output = constrained {
            generation["responseMimeType"] = "application/json"
            generation["responseSchema"] = Self.responseSchema(output.schema)
        }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        return .object(body)
    }

    /// Decodes `GenerateContentResponse`s: whole in `generateContent`, one per event when streaming. Function calls
    /// arrive whole; usage is cumulative; the last chunk carries the finish reason.
    struct ResponseDecoder: StreamDecoding {
        var callCount = 0
        var finishReason: FinishReason?
        /// Gemini's stream simply ends after the chunk with the finish reason.
        var isDone: Bool { false }

        mutating func decode(data: String, redactor: Redactor) throws -> [ModelEvent] {
            guard !data.isEmpty else { return [] }
            guard let chunk = JSONValue.parse(data) else { throw ProviderError(.malformed, message: "A streamed chunk is not JSON.") }
            return try decode(chunk, redactor: redactor)
        }

        mutating func decode(_ chunk: JSONValue, redactor: Redactor) throws -> [ModelEvent] {
            if let error = chunk["error"], !error.isNull {
                let message = redactor.clean(error["message"]?.stringValue ?? "The provider reported an error.")
                var failure = ProviderError(GeminiProvider.kind(status: error["status"]?.stringValue) ?? .unavailable,
                                            message: message, retryAfter: GeminiProvider.retryDelay(error))
                if failure.kind == .badRequest, ProviderError.mentionsContextLength(message) { failure.kind = .contextLength }
                throw failure
            }
            var events: [ModelEvent] = []
            if let blocked = chunk["promptFeedback"]?["blockReason"]?.stringValue, !blocked.isEmpty {
                finishReason = .contentFilter
            }
            if let candidate = chunk["candidates"]?[0] {
                for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
                    let signature = part["thoughtSignature"]?.stringValue
                    if let call = part["functionCall"] {
                        let index = callCount
                        callCount += 1
                        let id = call["id"]?.stringValue ?? "\(GeminiProvider.localCallPrefix)\(index)_\(UUID().uuidString.prefix(8).lowercased())"
                        events.append(.toolCallStart(index: index, id: id, name: call["name"]?.stringValue ?? ""))
                        events.append(.toolCallArguments(index: index, fragment: (call["args"] ?? .object([:])).jsonString))
                        if let signature { events.append(.signature(index: index, value: signature)) }
                    } else if part["thought"]?.boolValue == true {
                        continue // a thought summary, not part of the answer
                    } else {
                        if let text = part["text"]?.stringValue, !text.isEmpty { events.append(.textDelta(text)) }
                        if let signature { events.append(.signature(index: nil, value: signature)) }
                    }
                }
                if let reason = candidate["finishReason"]?.stringValue, reason != "FINISH_REASON_UNSPECIFIED" {
                    finishReason = switch reason {
                    case "STOP": .stop
                    case "MAX_TOKENS": .length
                    case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": .contentFilter
                    case "MALFORMED_FUNCTION_CALL":
                        throw ProviderError(.malformed, message: "Gemini produced a malformed function call.")
                    default: .stop
                    }
                }
            }
            if let usage = chunk["usageMetadata"], !usage.isNull {
                let thoughts = Usage.count(usage["thoughtsTokenCount"])
                events.append(.usage(Usage(inputTokens: Usage.count(usage["promptTokenCount"]),
                                           outputTokens: Usage.count(usage["candidatesTokenCount"]) + thoughts,
                                           cachedInputTokens: Usage.count(usage["cachedContentTokenCount"]),
                                           reasoningTokens: thoughts)))
            }
            return events
        }

        func finish() throws -> [ModelEvent] {
            guard let finishReason else {
                throw ProviderError(.interrupted, message: "The stream ended before the response did.")
            }
            return [.finish(callCount > 0 && finishReason == .stop ? .toolCalls : finishReason)]
        }
    }

    static func kind(status: String?) -> ProviderError.Kind? {
        switch status {
        case "RESOURCE_EXHAUSTED": .rateLimited
        case "UNAVAILABLE", "INTERNAL": .unavailable
        case "DEADLINE_EXCEEDED": .timeout
        case "INVALID_ARGUMENT", "FAILED_PRECONDITION": .badRequest
        case "UNAUTHENTICATED", "PERMISSION_DENIED": .authentication
        case "NOT_FOUND": .notFound
        default: nil
        }
    }

    /// The `retryDelay` of a `google.rpc.RetryInfo` detail ("7s", "0.5s").
    static func retryDelay(_ error: JSONValue?) -> Duration? {
        for detail in error?["details"]?.arrayValue ?? [] where detail["@type"]?.stringValue?.hasSuffix("RetryInfo") == true {
            if let text = detail["retryDelay"]?.stringValue, text.hasSuffix("s"), let seconds = Double(text.dropLast()) {
                return ProviderHTTP.delay(seconds: seconds)
            }
        }
        return nil
    }
}

extension GeminiProvider {
    /// A JSON Schema as Gemini's response schema (an OpenAPI subset): its keywords only, types in capitals.
    static func responseSchema(_ schema: JSONValue) -> JSONValue {
        guard case .object(let object) = schema else { return schema }
        var converted: [String: JSONValue] = [:]
        for (key, value) in object {
            switch key {
            case "type":
                // `[string, "null"]` is Gemini's `STRING` with `nullable`.
                let types = value.arrayValue?.compactMap(\.stringValue) ?? value.stringValue.map { [$0] } ?? []
                let named = types.filter { $0 != "null" }
                if named.count == 1 { converted[key] = .string(named[0].uppercased()) }
                if named.count < types.count { converted["nullable"] = true }
            case "enum": converted[key] = .array((value.arrayValue ?? []).filter { $0 != .null })
            case "properties": converted[key] = .object((value.objectValue ?? [:]).mapValues(responseSchema))
            case "items": converted[key] = responseSchema(value)
            case "description", "required", "format", "nullable": converted[key] = value
            default: continue
            }
        }
        return .object(converted)
    }
}
