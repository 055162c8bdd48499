import Core
import Foundation
import LLM

// Messages and usage as the chat events carry them, written straight to JSON: the fields of the contract's `Message`
// and `Usage`, which the JSON responses encode through the generated code (`ChatRepresentations`). Every turn sends
// its messages as events, and encoding them with `JSONEncoder` was about 4% of a busy chat server's time.
// StreamingTests hold the two to the same JSON (`expectEventsMatchStoredMessages`, for every provider).
//
// An event's data is written as bytes member by member (`write(into:)`), its keys in the sorted order `JSONValue`
// writes them in; `ChatJSONTests` holds the two to the same bytes. Building the dictionaries, hashing their keys and
// sorting them again was 3% of a plain turn's instructions; `json` stays for the answers that nest messages in more.

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

/// A JSON object written member by member: the caller gives the keys in sorted order.
struct JSONObjectWriter {
    private var bytes: [UInt8]
    private var empty = true

    /// Takes `bytes` over (moved, not copied) and writes after them; `finished()` gives them back.
    init(taking bytes: inout [UInt8]) {
        self.bytes = []
        swap(&self.bytes, &bytes)
        self.bytes.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ key: StaticString) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        // Two bytes, not `"\":".utf8`: appending a string's view went through its generic path (300 instructions).
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ key: StaticString, _ value: String) {
        self.key(key)
        JSONValue.quote(value, into: &bytes)
    }

    mutating func string(_ key: StaticString, _ value: String?) {
        if let value { string(key, value) }
    }

    /// An id, written as it is shown (nothing in it to escape) without making its string.
    mutating func id(_ key: StaticString, _ value: UUID) {
        self.key(key)
        bytes.append(UInt8(ascii: "\""))
        value.appendLowercased(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A time in RFC 3339, written like `id`.
    mutating func date(_ key: StaticString, _ value: Date, fractionalDigits: Int = 0) {
        self.key(key)
        bytes.append(UInt8(ascii: "\""))
        RFC3339.append(value, fractionalDigits: fractionalDigits, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func int(_ key: StaticString, _ value: Int) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ key: StaticString, _ value: Bool) {
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func value(_ key: StaticString, _ value: JSONValue) {
        self.key(key)
        bytes.append(contentsOf: value.jsonBytes)
    }

    /// A member whose value `write` appends.
    mutating func member(_ key: StaticString, _ write: (inout [UInt8]) -> Void) {
        self.key(key)
        write(&bytes)
    }

    consuming func finished() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

extension StoredMessage {
    /// `json`'s bytes, appended to `out`.
    func write(into out: inout [UInt8]) {
        var object = JSONObjectWriter(taking: &out)
        object.string("agent", agent)
        if let completedAt { object.date("completed_at", completedAt) }
        object.member("content") { out in
            out.append(UInt8(ascii: "["))
            for (index, part) in parts.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                part.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        object.id("conversation_id", conversationID)
        object.date("created_at", createdAt)
        if let error {
            object.member("error") { out in
                var members = JSONObjectWriter(taking: &out)
                members.string("code", error.code)
                members.string("message", error.message)
                out = members.finished()
            }
        }
        object.string("finish_reason", finishReason)
        object.id("id", id)
        object.string("model", model)
        object.string("provider", provider)
        object.string("role", role.rawValue)
        object.int("seq", seq)
        object.string("status", status.rawValue)
        object.id("turn_id", turnID)
        object.member("usage", usage.write(into:))
        out = object.finished()
    }
}

extension Part {
    /// `json`'s bytes, appended to `out`.
    func write(into out: inout [UInt8]) {
        var object = JSONObjectWriter(taking: &out)
        switch self {
        case .text(let text):
            object.string("text", text)
            object.string("type", "text")
        case .toolCall(let call):
            object.value("arguments", .object(call.arguments.objectValue ?? [:]))
            object.string("id", call.id)
            object.string("name", call.name)
            object.string("type", "tool_call")
        case .toolResult(let result):
            object.value("content", result.content)
            object.bool("is_error", result.isError)
            object.string("name", result.name)
            object.string("tool_call_id", result.callID)
            object.string("type", "tool_result")
        }
        out = object.finished()
    }
}

extension Usage {
    /// `json`'s bytes, appended to `out`.
    func write(into out: inout [UInt8]) {
        var object = JSONObjectWriter(taking: &out)
        object.int("cache_write_tokens", cacheWriteTokens)
        object.int("cached_input_tokens", cachedInputTokens)
        object.int("input_tokens", inputTokens)
        object.int("output_tokens", outputTokens)
        object.int("reasoning_tokens", reasoningTokens)
        object.int("total_tokens", totalTokens)
        out = object.finished()
    }
}
