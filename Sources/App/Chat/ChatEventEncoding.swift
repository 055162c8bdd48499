import API
import Agents
import Core
import Foundation
import LLM

/// A chat event as it travels: its name and its JSON data, the same for server-sent events and WebSocket frames.
enum ChatEventEncoding {
    static func data(_ event: ChatEvent) -> Data {
        switch event {
        case .messageDelta(let messageID, let delta):
            return JSONValue.object(["message_id": .string(messageID.lowercased), "delta": .string(delta)]).jsonData
        case .messageCompleted(let message), .toolResult(let message):
            return message.json.jsonData
        case .toolCall(let messageID, let call):
            return JSONValue.object(["message_id": .string(messageID.lowercased),
                                     "tool_call": ["id": .string(call.id), "name": .string(call.name), "arguments": call.arguments]]).jsonData
        case .agentSelected(let selection):
            return JSONValue.object(["agent": .string(selection.agent), "reason": .string(selection.reason.rawValue),
                                     "flow": .string(selection.flow)]).jsonData
        case .approvalRequired(let approval):
            return encode(Components.Schemas.Approval(approval, now: approval.createdAt))
        case .error(let failure):
            return JSONValue.object([
                "status": .int(Int64(failure.status)), "code": .string(failure.code), "message": .string(failure.message),
                "model": failure.model.map(JSONValue.string) ?? .null,
                "message_id": failure.messageID.map { .string($0.lowercased) } ?? .null,
            ]).jsonData
        case .done(let summary):
            return JSONValue.object(["turn_id": .string(summary.turnID.lowercased), "conversation_id": .string(summary.conversationID.lowercased),
                                     "status": .string(summary.status.rawValue), "usage": summary.usage.json]).jsonData
        case .keepAlive:
            return Data("{}".utf8) // never sent as an event: an event stream writes a comment, the others skip it
        }
    }

    /// `event: <name>`, `id: <n>`, `data: <json>`: one server-sent event, appended to `bytes`. JSON has no raw newlines, so the data is
    /// one line.
    static func serverSentEvent(_ event: ChatEvent, id: Int, into bytes: inout [UInt8]) {
        bytes += "event: \(event.name)\nid: \(id)\ndata: ".utf8
        bytes += data(event)
        bytes += "\n\n".utf8
    }

    /// `{"event", "id", "data"}`: one WebSocket text frame.
    static func frame(_ event: ChatEvent, id: Int) -> String {
        "{\"event\":\"\(event.name)\",\"id\":\(id),\"data\":" + String(decoding: data(event), as: UTF8.self) + "}"
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
