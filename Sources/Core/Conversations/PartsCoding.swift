import Foundation
import LLM

/// How message parts are stored (a JSON array in `messages.parts`) and shown in the API:
/// `{"type": "text", "text"}`, `{"type": "tool_call", "id", "name", "arguments"}`,
/// `{"type": "tool_result", "tool_call_id", "name", "content", "is_error"}`. Gemini's thought signatures are stored
/// too (`signature`), never shown.
public enum PartsCoding {
    public static func encode(_ parts: [Part], textSignature: String?, includeSignatures: Bool = true) -> JSONValue {
        .array(parts.map { part in
            switch part {
            case .text(let text):
                var object: [String: JSONValue] = ["type": "text", "text": .string(text)]
                if includeSignatures, let textSignature { object["signature"] = .string(textSignature) }
                return .object(object)
            case .toolCall(let call):
                var object: [String: JSONValue] = ["type": "tool_call", "id": .string(call.id), "name": .string(call.name),
                                                   "arguments": call.arguments]
                if includeSignatures, let signature = call.signature { object["signature"] = .string(signature) }
                return .object(object)
            case .toolResult(let result):
                return ["type": "tool_result", "tool_call_id": .string(result.callID), "name": .string(result.name),
                        "content": result.content, "is_error": .bool(result.isError)]
            }
        })
    }

    public static func decode(_ json: JSONValue) -> (parts: [Part], textSignature: String?) {
        var signature: String?
        let parts: [Part] = (json.arrayValue ?? []).compactMap { part in
            switch part["type"]?.stringValue {
            case "text":
                if let value = part["signature"]?.stringValue { signature = value }
                return .text(part["text"]?.stringValue ?? "")
            case "tool_call":
                return .toolCall(ToolCall(id: part["id"]?.stringValue ?? "", name: part["name"]?.stringValue ?? "",
                                          arguments: part["arguments"] ?? .object([:]), signature: part["signature"]?.stringValue))
            case "tool_result":
                return .toolResult(ToolResult(callID: part["tool_call_id"]?.stringValue ?? "", name: part["name"]?.stringValue ?? "",
                                              content: part["content"] ?? .null, isError: part["is_error"]?.boolValue ?? false))
            default:
                return nil
            }
        }
        return (parts, signature)
    }
}
