import Foundation
import Testing
@testable import Agents
@testable import App
import Core
import LLM

/// The events' data written member by member against the same values built as `JSONValue` and written by it: the same
/// bytes, for messages with and without every optional field and with text that needs escaping.
@Suite("Chat events as JSON")
struct ChatJSONTests {
    static let texts = ["", "plain", "quote \" and \\ backslash", "line\nbreak\tand \u{1}", "é😀 \u{2028}", "{\"not\":\"json\"}"]

    static func randomMessage(using generator: inout some RandomNumberGenerator) -> StoredMessage {
        func text() -> String { texts.randomElement(using: &generator)! }
        func maybe(_ value: String) -> String? { Bool.random(using: &generator) ? value : nil }
        let parts: [Part] = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
            switch Int.random(in: 0...2, using: &generator) {
            case 0: .text(text())
            case 1: .toolCall(ToolCall(id: text(), name: text(), arguments: Bool.random(using: &generator) ? ["q": .string(text()), "n": 3] : .string("not an object")))
            default: .toolResult(ToolResult(callID: text(), name: text(), content: ["rows": [.int(1), .null, .string(text())]],
                                            isError: Bool.random(using: &generator)))
            }
        }
        let usage = Usage(inputTokens: Int.random(in: 0...1_000_000, using: &generator), outputTokens: Int.random(in: 0...9, using: &generator),
                          cachedInputTokens: 3, cacheWriteTokens: 4, reasoningTokens: 5)
        var message = StoredMessage(
            conversationID: UUID.random(), turnID: UUID.random(), role: [.user, .assistant, .tool].randomElement(using: &generator)!, parts: parts,
            model: maybe(text()), provider: maybe("openai"), agent: maybe(text()),
            status: [.complete, .incomplete, .error].randomElement(using: &generator)!, finishReason: maybe("stop"), usage: usage,
            error: Bool.random(using: &generator) ? MessageError(code: "model_timeout", message: text()) : nil,
            createdAt: Date(timeIntervalSince1970: Double(Int.random(in: 0...2_000_000_000, using: &generator))),
            completedAt: Bool.random(using: &generator) ? Date(timeIntervalSince1970: 1_800_000_000.75) : nil)
        message.seq = Int.random(in: 1...Int(Int32.max), using: &generator)
        return message
    }

    @Test("Messages, deltas and `done`, written directly, are the bytes `JSONValue` writes, appended after what was there")
    func sameBytes() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let message = Self.randomMessage(using: &generator)
            var bytes = Array("prefix".utf8)
            message.write(into: &bytes)
            #expect(bytes == Array("prefix".utf8) + message.json.jsonBytes, "\(String(decoding: bytes, as: UTF8.self))")

            let summary = TurnSummary(turnID: message.turnID, conversationID: message.conversationID, status: .incomplete, usage: message.usage)
            let events: [ChatEvent] = [.messageCompleted(message), .toolResult(message), .done(summary),
                                       .messageDelta(messageID: message.id, delta: Self.texts.randomElement(using: &generator)!)]
            for event in events {
                var written: [UInt8] = []
                ChatEventEncoding.write(event, into: &written)
                let reference: JSONValue = switch event {
                case .messageCompleted(let message), .toolResult(let message): message.json
                case .done(let summary):
                    ["turn_id": .string(summary.turnID.lowercased), "conversation_id": .string(summary.conversationID.lowercased),
                     "status": .string(summary.status.rawValue), "usage": summary.usage.json]
                case .messageDelta(let id, let delta): ["message_id": .string(id.lowercased), "delta": .string(delta)]
                default: .null
                }
                #expect(written == reference.jsonBytes)
                #expect(JSONValue.parse(ChatEventEncoding.frame(event, id: 7))?["data"] == reference, "a WebSocket frame carries the same data")
            }
        }
    }
}
