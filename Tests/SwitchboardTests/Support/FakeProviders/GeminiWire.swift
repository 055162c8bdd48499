import LLM

/// Gemini `streamGenerateContent?alt=sse`: `GenerateContentResponse` chunks separated by CRLF, function calls whole
/// with a thought signature on the first, cumulative usage, the finish reason on the last chunk.
struct GeminiWire: FakeWire {
    static let signature = "c2lnbmF0dXJlLW9mLXRob3VnaHQ="

    private func chunk(_ parts: [JSONValue], finish: String?, outputTokens: Int) -> JSONValue {
        var candidate: [String: JSONValue] = ["content": ["parts": .array(parts), "role": "model"], "index": 0]
        if let finish { candidate["finishReason"] = .string(finish) }
        return ["candidates": [.object(candidate)],
                "usageMetadata": ["promptTokenCount": .int(Int64(FakeUsage.input)), "cachedContentTokenCount": .int(Int64(FakeUsage.cached)),
                                  "candidatesTokenCount": .int(Int64(outputTokens - FakeUsage.reasoning)),
                                  "thoughtsTokenCount": .int(Int64(FakeUsage.reasoning)),
                                  "totalTokenCount": .int(Int64(FakeUsage.input + outputTokens))],
                "modelVersion": "gemini-test-model", "responseId": "resp-fake"]
    }

    private func callParts(_ reply: FakeReply) -> [JSONValue] {
        reply.calls.enumerated().map { index, call in
            var part: [String: JSONValue] = ["functionCall": ["name": .string(call.name), "args": JSONValue.parse(call.arguments) ?? [:]]]
            if index == 0 { part["thoughtSignature"] = .string(Self.signature) }
            return .object(part)
        }
    }

    func stream(_ reply: FakeReply) -> [FakeStreamEvent] {
        var events: [FakeStreamEvent] = []
        let (pieces, pause) = reply.pieces
        for (place, piece) in pieces.enumerated() {
            if let pause, place > 0 { events.append(.pause(pause)) }
            events.append(.bytes("data: \(chunk([["text": .string(piece)]], finish: nil, outputTokens: FakeUsage.reasoning + 1).jsonString)\r\n\r\n"))
        }
        switch reply {
        case .cut: return events + [.cutShort]
        case .inBandError:
            return events + [.bytes("data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n"), .cutShort]
        default: break
        }
        events.append(.bytes("data: \(chunk(callParts(reply), finish: "STOP", outputTokens: FakeUsage.output).jsonString)\r\n\r\n"))
        return events
    }

    func whole(_ reply: FakeReply) -> JSONValue {
        let text: [JSONValue] = reply.fullText.isEmpty ? [] : [["text": .string(reply.fullText)]]
        return chunk(text + callParts(reply), finish: "STOP", outputTokens: FakeUsage.output)
    }

    func errorBody(status: Int, message: String) -> String {
        let name: String = switch status {
        case 429: "RESOURCE_EXHAUSTED"
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 503: "UNAVAILABLE"
        default: "INTERNAL"
        }
        return JSONValue.object(["error": ["code": .int(Int64(status)), "message": .string(message), "status": .string(name)]]).jsonString
    }
}
