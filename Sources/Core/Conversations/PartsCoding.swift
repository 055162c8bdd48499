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

    /// Each part's members are read in one pass, not looked up by name: every turn decodes its whole history, and
    /// hashing the names was a good part of that.
    public static func decode(_ json: JSONValue) -> (parts: [Part], textSignature: String?) {
        var signature: String?
        let parts: [Part] = (json.arrayValue ?? []).compactMap { part in
            guard case .object(let members) = part else { return nil }
            var type: String?, text: String?, id: String?, name: String?, callID: String?, partSignature: String?
            var arguments: JSONValue?, content: JSONValue?, isError: Bool?
            for (key, value) in members {
                switch key {
                case "type": type = value.stringValue
                case "text": text = value.stringValue
                case "id": id = value.stringValue
                case "name": name = value.stringValue
                case "tool_call_id": callID = value.stringValue
                case "signature": partSignature = value.stringValue
                case "arguments": arguments = value
                case "content": content = value
                case "is_error": isError = value.boolValue
                default: break
                }
            }
            switch type {
            case "text":
                if let partSignature { signature = partSignature }
                return .text(text ?? "")
            case "tool_call":
                return .toolCall(ToolCall(id: id ?? "", name: name ?? "", arguments: arguments ?? .object([:]), signature: partSignature))
            case "tool_result":
                return .toolResult(ToolResult(callID: callID ?? "", name: name ?? "", content: content ?? .null, isError: isError ?? false))
            default:
                return nil
            }
        }
        return (parts, signature)
    }
}
