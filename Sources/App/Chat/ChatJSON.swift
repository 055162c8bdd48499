import Core
import Foundation
import LLM

// Messages and usage as the chat events carry them, written straight to JSON: the fields of the contract's `Message`
// and `Usage`, which the JSON responses encode through the generated code (`ChatRepresentations`). Every turn sends
// its messages as events, and encoding them with `JSONEncoder` was about 4% of a busy chat server's time.
// StreamingTests hold the two to the same JSON (`expectEventsMatchStoredMessages`, for every provider).

extension StoredMessage {
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id.lowercased), "conversation_id": .string(conversationID.lowercased), "turn_id": .string(turnID.lowercased),
            "seq": .int(Int64(seq)), "role": .string(role.rawValue), "content": .array(parts.map(\.json)),
            "status": .string(status.rawValue), "usage": usage.json, "created_at": .string(RFC3339.format(createdAt, fractionalDigits: 0)),
        ]
        if let model { object["model"] = .string(model) }
        if let provider { object["provider"] = .string(provider) }
        if let agent { object["agent"] = .string(agent) }
        if let finishReason { object["finish_reason"] = .string(finishReason) }
        if let error { object["error"] = ["code": .string(error.code), "message": .string(error.message)] }
        if let completedAt { object["completed_at"] = .string(RFC3339.format(completedAt, fractionalDigits: 0)) }
        return .object(object)
    }
}

extension Part {
    /// A tool call's arguments are an object in the contract: arguments a model sent that are not one show as `{}`.
    var json: JSONValue {
        switch self {
        case .text(let text):
            ["type": "text", "text": .string(text)]
        case .toolCall(let call):
            ["type": "tool_call", "id": .string(call.id), "name": .string(call.name), "arguments": .object(call.arguments.objectValue ?? [:])]
        case .toolResult(let result):
            ["type": "tool_result", "name": .string(result.name), "tool_call_id": .string(result.callID), "content": result.content,
             "is_error": .bool(result.isError)]
        }
    }
}

extension Usage {
    var json: JSONValue {
        ["input_tokens": .int(Int64(inputTokens)), "output_tokens": .int(Int64(outputTokens)),
         "cached_input_tokens": .int(Int64(cachedInputTokens)), "cache_write_tokens": .int(Int64(cacheWriteTokens)),
         "reasoning_tokens": .int(Int64(reasoningTokens)), "total_tokens": .int(Int64(totalTokens))]
    }
}
