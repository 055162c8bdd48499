import Foundation

/// Builds the whole response from a stream of `ModelEvent`s: the text, every tool call with its arguments parsed, the
/// last usage and the finish reason.
public struct ResponseAssembler: Sendable {
    private var text = ""
    private var textSignature: String?
    private var calls: [Int: (id: String, name: String, arguments: String, signature: String?)] = [:]
    private var order: [Int] = []
    public private(set) var usage = Usage.zero
    public private(set) var finishReason: FinishReason?

    public init() {}

    public mutating func add(_ event: ModelEvent) {
        switch event {
        case .textDelta(let delta):
            text += delta
        case .toolCallStart(let index, let id, let name):
            if calls[index] == nil { order.append(index) }
            calls[index] = (id, name, calls[index]?.arguments ?? "", calls[index]?.signature)
        case .toolCallArguments(let index, let fragment):
            if calls[index] == nil {
                order.append(index)
                calls[index] = ("", "", "", nil)
            }
            calls[index]?.arguments += fragment
        case .signature(let index, let value):
            if let index { calls[index]?.signature = value } else { textSignature = value }
        case .usage(let usage):
            self.usage = usage
        case .finish(let reason):
            finishReason = reason
        }
    }

    public var hasOutput: Bool { !text.isEmpty || !calls.isEmpty }

    public var partialText: String { text }

    /// The assembled message. Arguments that are not JSON (or nest deeper than anything stored may) are kept as their
    /// raw text (a string), so validation can tell the model what it sent; no arguments at all mean an empty object.
    public var message: ChatMessage {
        var parts: [Part] = text.isEmpty ? [] : [.text(text)]
        for index in order {
            guard let call = calls[index] else { continue }
            let raw = call.arguments.trimmingWhitespaceAndNewlines
            let parsed = JSONValue.parse(raw).flatMap { $0.depth <= JSONValue.maxStoredDepth ? $0 : nil }
            let arguments = raw.isEmpty ? .object([:]) : (parsed ?? .string(call.arguments))
            parts.append(.toolCall(ToolCall(id: call.id, name: call.name, arguments: arguments, signature: call.signature)))
        }
        return ChatMessage(role: .assistant, parts: parts, textSignature: textSignature)
    }

    public var response: ModelResponse {
        let message = self.message
        let reason = finishReason ?? (message.toolCalls.isEmpty ? .stop : .toolCalls)
        return ModelResponse(message: message, usage: usage, finishReason: !message.toolCalls.isEmpty && reason == .stop ? .toolCalls : reason)
    }
}
