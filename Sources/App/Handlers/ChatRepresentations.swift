import API
import Agents
import Core
import Foundation
import LLM
import OpenAPIRuntime

/// API representations of conversations and messages: one translation, used by the JSON responses, the event
/// stream and the WebSocket alike.
extension Components.Schemas.Conversation {
    init(_ conversation: Conversation) {
        self.init(id: conversation.id.lowercased, title: conversation.title, agent: conversation.agent,
                  metadata: conversation.metadata.objectContainer, createdAt: conversation.createdAt, updatedAt: conversation.updatedAt)
    }
}

extension Components.Schemas.Usage {
    init(_ usage: Usage) {
        self.init(inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: usage.cachedInputTokens,
                  cacheWriteTokens: usage.cacheWriteTokens, reasoningTokens: usage.reasoningTokens, totalTokens: usage.totalTokens)
    }
}

extension Components.Schemas.ContentPart {
    init(_ part: Part) {
        switch part {
        case .text(let text):
            self.init(_type: .text, text: text)
        case .toolCall(let call):
            self.init(_type: .toolCall, id: call.id, name: call.name, arguments: call.arguments.objectContainer)
        case .toolResult(let result):
            self.init(_type: .toolResult, name: result.name, toolCallId: result.callID, content: result.content.valueContainer,
                      isError: result.isError)
        }
    }
}

extension Components.Schemas.Message {
    init(_ message: StoredMessage) {
        let role: RolePayload = switch message.role {
        case .user: .user
        case .assistant: .assistant
        case .tool: .tool
        }
        let status: StatusPayload = switch message.status {
        case .complete: .complete
        case .incomplete: .incomplete
        case .error: .error
        }
        self.init(id: message.id.lowercased, conversationId: message.conversationID.lowercased, turnId: message.turnID.lowercased,
                  seq: message.seq, role: role, content: message.parts.map(Components.Schemas.ContentPart.init),
                  model: message.model, provider: message.provider, agent: message.agent, status: status, finishReason: message.finishReason,
                  usage: .init(message.usage), error: message.error.map { .init(code: $0.code, message: $0.message) },
                  createdAt: message.createdAt, completedAt: message.completedAt)
    }
}

extension JSONValue {
    /// As the generated code holds free-form JSON.
    var anyValue: (any Sendable)? {
        switch self {
        case .null: nil
        case .bool(let value): value
        case .int(let value): Int(value)
        case .double(let value): value
        case .string(let value): value
        case .array(let values): values.map(\.anyValue)
        case .object(let object): object.mapValues(\.anyValue)
        }
    }

    init(any value: (any Sendable)?) {
        switch value {
        case nil: self = .null
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .int(Int64(value))
        case let value as Int64: self = .int(value)
        case let value as Double: self = .double(value)
        case let value as String: self = .string(value)
        case let value as [(any Sendable)?]: self = .array(value.map(JSONValue.init(any:)))
        case let value as [String: (any Sendable)?]: self = .object(value.mapValues(JSONValue.init(any:)))
        default: self = .string("\(value!)")
        }
    }

    var objectContainer: OpenAPIObjectContainer {
        (try? OpenAPIObjectContainer(unvalidatedValue: (objectValue ?? [:]).mapValues(\.anyValue))) ?? OpenAPIObjectContainer()
    }

    var valueContainer: OpenAPIValueContainer {
        (try? OpenAPIValueContainer(unvalidatedValue: anyValue)) ?? nil
    }
}

extension OpenAPIObjectContainer {
    var json: JSONValue { .object(value.mapValues(JSONValue.init(any:))) }
}

extension Components.Schemas.Approval {
    /// As of `now`: a pending approval past its time shows as `expired`.
    init(_ approval: ToolApproval, now: Date) {
        self.init(id: approval.id.lowercased, conversationId: approval.conversationID.lowercased, turnId: approval.turnID.lowercased,
                  messageId: approval.messageID.lowercased, toolCallId: approval.call.id, tool: approval.call.name,
                  arguments: approval.call.arguments.objectContainer, agent: approval.agent,
                  status: StatusPayload(rawValue: approval.status(at: now).rawValue) ?? .expired,
                  decidedArguments: approval.decidedArguments?.objectContainer, reason: approval.reason,
                  createdAt: approval.createdAt, expiresAt: approval.expiresAt, decidedAt: approval.decidedAt)
    }
}
