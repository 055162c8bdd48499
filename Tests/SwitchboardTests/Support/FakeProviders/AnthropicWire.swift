import LLM

/// Anthropic Messages: named events (`message_start`, `content_block_*`, `message_delta`, `message_stop`, `ping`),
/// tool input as `input_json_delta` fragments, usage split between the first and last events.
struct AnthropicWire: FakeWire {
    private func event(_ name: String, _ data: JSONValue) -> FakeStreamEvent {
        .bytes("event: \(name)\ndata: \(data.jsonString)\n\n")
    }

    func stream(_ reply: FakeReply) -> [FakeStreamEvent] {
        var events: [FakeStreamEvent] = [
            event("message_start", ["type": "message_start", "message": [
                "id": "msg_fake", "type": "message", "role": "assistant", "content": [], "model": "anthropic-test-model",
                "stop_reason": .null, "stop_sequence": .null,
                "usage": ["input_tokens": .int(Int64(FakeUsage.input - FakeUsage.cached)), "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": .int(Int64(FakeUsage.cached)), "output_tokens": 1]]]),
        ]
        var index = 0
        let (pieces, pause) = reply.pieces
        if !pieces.isEmpty {
            events.append(event("content_block_start", ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]]))
            events.append(event("ping", ["type": "ping"]))
            for (place, piece) in pieces.enumerated() {
                if let pause, place > 0 { events.append(.pause(pause)) }
                events.append(event("content_block_delta", ["type": "content_block_delta", "index": 0,
                                                            "delta": ["type": "text_delta", "text": .string(piece)]]))
            }
            switch reply {
            case .cut: return events + [.cutShort]
            case .inBandError:
                return events + [event("error", ["type": "error", "error": ["type": "overloaded_error", "message": "Overloaded"]]), .cutShort]
            default: break
            }
            events.append(event("content_block_stop", ["type": "content_block_stop", "index": 0]))
            index = 1
        }
        for call in reply.calls {
            events.append(event("content_block_start", ["type": "content_block_start", "index": .int(Int64(index)),
                                                        "content_block": ["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": [:]]]))
            events.append(event("content_block_delta", ["type": "content_block_delta", "index": .int(Int64(index)),
                                                        "delta": ["type": "input_json_delta", "partial_json": ""]]))
            for fragment in FakeReply.split(call.arguments) {
                events.append(event("content_block_delta", ["type": "content_block_delta", "index": .int(Int64(index)),
                                                            "delta": ["type": "input_json_delta", "partial_json": .string(fragment)]]))
            }
            events.append(event("content_block_stop", ["type": "content_block_stop", "index": .int(Int64(index))]))
            index += 1
        }
        events.append(event("message_delta", ["type": "message_delta",
                                              "delta": ["stop_reason": reply.calls.isEmpty ? "end_turn" : "tool_use", "stop_sequence": .null],
                                              "usage": ["output_tokens": .int(Int64(FakeUsage.output))]]))
        events.append(event("message_stop", ["type": "message_stop"]))
        return events
    }

    func whole(_ reply: FakeReply) -> JSONValue {
        var content: [JSONValue] = reply.fullText.isEmpty ? [] : [["type": "text", "text": .string(reply.fullText)]]
        for call in reply.calls {
            content.append(["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": JSONValue.parse(call.arguments) ?? [:]])
        }
        return ["id": "msg_fake", "type": "message", "role": "assistant", "model": "anthropic-test-model", "content": .array(content),
                "stop_reason": reply.calls.isEmpty ? "end_turn" : "tool_use", "stop_sequence": .null,
                "usage": ["input_tokens": .int(Int64(FakeUsage.input - FakeUsage.cached)), "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": .int(Int64(FakeUsage.cached)), "output_tokens": .int(Int64(FakeUsage.output))]]
    }

    func errorBody(status: Int, message: String) -> String {
        let type: String = switch status {
        case 429: "rate_limit_error"
        case 529: "overloaded_error"
        case 401: "authentication_error"
        case 400: "invalid_request_error"
        default: "api_error"
        }
        return JSONValue.object(["type": "error", "error": ["type": .string(type), "message": .string(message)]]).jsonString
    }
}
