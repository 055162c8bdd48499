import LLM

/// OpenAI Chat Completions: `chat.completion.chunk` events, tool-call fragments keyed by index, a usage chunk with no
/// choices, `data: [DONE]`.
struct OpenAIWire: FakeWire {
    private func chunk(_ delta: JSONValue, finish: String? = nil) -> FakeStreamEvent {
        let body: JSONValue = ["id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "openai-test-model",
                               "choices": [["index": 0, "delta": delta, "finish_reason": finish.map(JSONValue.string) ?? .null]]]
        return .bytes("data: \(body.jsonString)\n\n")
    }

    private var usage: JSONValue {
        ["prompt_tokens": .int(Int64(FakeUsage.input)), "completion_tokens": .int(Int64(FakeUsage.output)),
         "total_tokens": .int(Int64(FakeUsage.input + FakeUsage.output)),
         "prompt_tokens_details": ["cached_tokens": .int(Int64(FakeUsage.cached))],
         "completion_tokens_details": ["reasoning_tokens": .int(Int64(FakeUsage.reasoning))]]
    }

    func stream(_ reply: FakeReply) -> [FakeStreamEvent] {
        var events: [FakeStreamEvent] = [chunk(["role": "assistant", "content": ""])]
        let (pieces, pause) = reply.pieces
        for (place, piece) in pieces.enumerated() {
            if let pause, place > 0 { events.append(.pause(pause)) }
            events.append(chunk(["content": .string(piece)]))
        }
        switch reply {
        case .cut: return events + [.cutShort]
        case .inBandError:
            return events + [.bytes("data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"), .cutShort]
        default: break
        }
        for (index, call) in reply.calls.enumerated() {
            events.append(chunk(["tool_calls": [["index": .int(Int64(index)), "id": .string(call.id), "type": "function",
                                                 "function": ["name": .string(call.name), "arguments": ""]]]]))
            for fragment in FakeReply.split(call.arguments) {
                events.append(chunk(["tool_calls": [["index": .int(Int64(index)), "function": ["arguments": .string(fragment)]]]]))
            }
        }
        events.append(chunk([:], finish: reply.calls.isEmpty ? "stop" : "tool_calls"))
        let usageChunk: JSONValue = ["id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                                     "model": "openai-test-model", "choices": [], "usage": usage]
        events.append(.bytes("data: \(usageChunk.jsonString)\n\n"))
        events.append(.bytes("data: [DONE]\n\n"))
        return events
    }

    func whole(_ reply: FakeReply) -> JSONValue {
        var message: [String: JSONValue] = ["role": "assistant", "content": reply.fullText.isEmpty ? .null : .string(reply.fullText)]
        if !reply.calls.isEmpty {
            message["tool_calls"] = .array(reply.calls.map { call in
                ["id": .string(call.id), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
            })
        }
        return ["id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": "openai-test-model",
                "choices": [["index": 0, "message": .object(message), "finish_reason": reply.calls.isEmpty ? "stop" : "tool_calls"]],
                "usage": usage]
    }

    func errorBody(status: Int, message: String) -> String {
        let code: String = status == 429 ? "rate_limit_exceeded" : status == 401 ? "invalid_api_key" : "server_error"
        return JSONValue.object(["error": ["message": .string(message), "type": "requests", "param": .null, "code": .string(code)]]).jsonString
    }
}
