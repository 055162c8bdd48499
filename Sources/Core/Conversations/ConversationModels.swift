import Foundation
import LLM

public struct Conversation: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public var title: String?
    /// The agent that answers when a message names none.
    public var agent: String?
    /// The client's own data about the conversation (a JSON object), kept as given.
    public var metadata: JSONValue
    public let createdAt: Date
    public var updatedAt: Date
}

public enum MessageStatus: String, Sendable, Codable {
    case complete
    /// Cut short: the provider failed mid-stream or the turn ran out of time; the part received is kept.
    case incomplete
    /// No answer at all; `error` says why.
    case error
}

/// One stored message: the user's, an assistant step (text and/or tool calls), or a tool's result.
public struct StoredMessage: Sendable, Equatable {
    public let id: UUID
    public let conversationID: UUID
    public let turnID: UUID
    public var seq: Int
    public let role: Role
    public var parts: [Part]
    public var textSignature: String?
    /// The configured model name and its provider, for assistant messages.
    public var model: String?
    public var provider: String?
    /// The agent that wrote an assistant message.
    public var agent: String?
    public var status: MessageStatus
    public var finishReason: String?
    public var usage: Usage
    public var error: MessageError?
    public let createdAt: Date
    public var completedAt: Date?

    public init(id: UUID = UUID.random(), conversationID: UUID, turnID: UUID, role: Role, parts: [Part], textSignature: String? = nil,
                model: String? = nil, provider: String? = nil, agent: String? = nil, status: MessageStatus = .complete, finishReason: String? = nil,
                usage: Usage = .zero, error: MessageError? = nil, createdAt: Date, completedAt: Date? = nil) {
        self.id = id
        self.conversationID = conversationID
        self.turnID = turnID
        self.seq = 0
        self.role = role
        self.parts = parts
        self.textSignature = textSignature
        self.model = model
        self.provider = provider
        self.agent = agent
        self.status = status
        self.finishReason = finishReason
        self.usage = usage
        self.error = error
        self.createdAt = createdAt
        self.completedAt = completedAt
    }

    /// The message's words, for search: text, tool names and arguments, tool results.
    public var searchableText: String {
        parts.map { part in
            switch part {
            case .text(let text): text
            case .toolCall(let call): "\(call.name) \(call.arguments.jsonString)"
            case .toolResult(let result): result.content.textForSearch
            }
        }.joined(separator: "\n")
    }
}

public struct MessageError: Sendable, Equatable {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

extension JSONValue {
    var textForSearch: String { stringValue ?? jsonString }
}
