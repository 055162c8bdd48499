import API
import Agents
import Core
import Foundation
import LLM

/// A chat event as it travels: its name and its JSON data, the same for server-sent events and WebSocket frames.
enum ChatEventEncoding {
    /// `event: <name>`, `id: <n>`, `data: <json>`: one server-sent event, appended to `bytes`. JSON has no raw
    /// newlines, so the data is one line.
    static func serverSentEvent(_ event: ChatEvent, id: Int, into bytes: inout [UInt8]) {
        bytes += "event: \(event.name)\nid: \(id)\ndata: ".utf8
        write(event, into: &bytes)
        bytes += "\n\n".utf8
    }

    /// An event's JSON data, appended to `bytes`. The events every turn sends are written member by member, without a
    /// dictionary between (`JSONObjectWriter`); the others through `JSONValue`.
    static func write(_ event: ChatEvent, into bytes: inout [UInt8]) {
        switch event {
        case .messageDelta(let messageID, let delta):
            var object = JSONObjectWriter(taking: &bytes)
            object.string("delta", delta)
            object.id("message_id", messageID)
            bytes = object.finished()
        case .messageCompleted(let message), .toolResult(let message):
            message.write(into: &bytes)
        case .done(let summary):
            var object = JSONObjectWriter(taking: &bytes)
            object.id("conversation_id", summary.conversationID)
            object.string("status", summary.status.rawValue)
            object.id("turn_id", summary.turnID)
            object.member("usage", summary.usage.write(into:))
            bytes = object.finished()
        case .toolCall(let messageID, let call):
            bytes += JSONValue.object(["message_id": .string(messageID.lowercased),
                                       "tool_call": ["id": .string(call.id), "name": .string(call.name), "arguments": call.arguments]]).jsonBytes
        case .agentSelected(let selection):
            bytes += JSONValue.object(["agent": .string(selection.agent), "reason": .string(selection.reason.rawValue),
                                       "flow": .string(selection.flow)]).jsonBytes
        case .approvalRequired(let approval):
            bytes += encode(Components.Schemas.Approval(approval, now: approval.createdAt))
        case .error(let failure):
            bytes += JSONValue.object([
                "status": .int(Int64(failure.status)), "code": .string(failure.code), "message": .string(failure.message),
                "model": failure.model.map(JSONValue.string) ?? .null,
                "message_id": failure.messageID.map { .string($0.lowercased) } ?? .null,
            ]).jsonBytes
        case .keepAlive:
            bytes += "{}".utf8 // never sent as an event: an event stream writes a comment, the others skip it
        }
    }

    /// `{"event", "id", "data"}`: one WebSocket text frame.
    static func frame(_ event: ChatEvent, id: Int) -> String {
        var bytes = Array("{\"event\":\"\(event.name)\",\"id\":\(id),\"data\":".utf8)
        write(event, into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date, fractionalDigits: 0))
        }
        return encoder
    }()

    /// A representation as JSON, as the events carry it.
    static func json(_ value: some Encodable) -> JSONValue {
        JSONValue.parse(encode(value)) ?? .null
    }

    private static func encode(_ value: some Encodable) -> Data {
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
