import Core
import Foundation
import LLM

/// What a turn reports as it runs, in order. Streamed as SSE events and WebSocket frames, or collected into one
/// JSON response. Every message is stored before the event that carries it is sent.
public enum ChatEvent: Sendable {
    /// `message.delta`: a piece of the assistant message `messageID`'s text, as the model writes it.
    case messageDelta(messageID: UUID, delta: String)
    /// `message.completed`: a user or assistant message, stored (complete, incomplete or error).
    case messageCompleted(StoredMessage)
    /// `tool.call`: the assistant message `messageID` asks for this tool call; it starts now.
    case toolCall(messageID: UUID, call: ToolCall)
    /// `tool.result`: a tool finished; the stored tool message holds its result.
    case toolResult(StoredMessage)
    /// `agent.selected`: a router chose the agent that answers, or a pipeline moves to its next step.
    case agentSelected(AgentSelection)
    /// `tool.approval_required`: a tool call waits for the user's decision; the turn ends `awaiting_approval`.
    case approvalRequired(ToolApproval)
    /// `error`: the turn failed; what was produced before is stored.
    case error(TurnFailure)
    /// `done`: the turn is over and the conversation is free for the next one. Always the last event.
    case done(TurnSummary)
    /// No event: the turn still runs. Sent every `keepAliveInterval` while it does, for connections that must carry
    /// something to stay open through proxies (an event stream sends it as a comment); never stored, never numbered,
    /// and skipped by everything else.
    case keepAlive

    public static let keepAliveInterval: Duration = .seconds(15)

    public var name: String {
        switch self {
        case .messageDelta: "message.delta"
        case .messageCompleted: "message.completed"
        case .toolCall: "tool.call"
        case .toolResult: "tool.result"
        case .approvalRequired: "tool.approval_required"
        case .agentSelected: "agent.selected"
        case .error: "error"
        case .done: "done"
        case .keepAlive: "keep-alive"
        }
    }
}

/// Why a turn failed, as the client sees it: a problem code and status, the model concerned, never a secret.
public struct TurnFailure: Sendable, Error {
    public let status: Int
    public let code: String
    public let message: String
    public let model: String?
    public let retryAfter: Int?
    /// The stored message that carries the failure (an incomplete or error assistant message).
    public let messageID: UUID?
    /// The problem's title; nil: the one its status says (a provider's failure).
    let title: String?

    /// 503 when the provider is overloaded, rate-limited or cooling down; 504 when it is too slow; 502 otherwise.
    init(_ error: ProviderError, messageID: UUID?) {
        switch error.kind {
        case .rateLimited, .unavailable: (status, code) = (503, "model_unavailable")
        case .timeout: (status, code) = (504, "model_timeout")
        case .contextLength: (status, code) = (502, "context_length_exceeded")
        default: (status, code) = (502, "model_error")
        }
        let who = error.model.map { "Model '\($0)'" } ?? "The model"
        message = "\(who) failed: \(error.message)"
        model = error.model
        retryAfter = error.retryAfter.map { max(1, Int(($0.components.seconds)) + ($0.components.attoseconds > 0 ? 1 : 0)) }
        self.messageID = messageID
        title = nil
    }

    /// A failure the turn met that a client can act on, as it is (the conversation was deleted meanwhile: 404).
    init(_ error: AppError) {
        status = error.status
        code = error.code
        message = error.detail ?? error.title
        model = nil
        retryAfter = error.retryAfter
        messageID = nil
        title = error.title
    }

    init(status: Int, code: String, message: String, model: String?, messageID: UUID?) {
        self.status = status
        self.code = code
        self.message = message
        self.model = model
        self.retryAfter = nil
        self.messageID = messageID
        title = nil
    }

    public var appError: AppError {
        var error = AppError(status: status, code: code,
                             title: title ?? (status == 504 ? "Gateway timeout" : status == 503 ? "Service unavailable" : "Bad gateway"),
                             detail: message, retryAfter: retryAfter)
        if let model { error.extensions["model"] = model }
        return error
    }
}

public struct TurnSummary: Sendable {
    public enum Status: String, Sendable {
        case complete
        /// The answer was cut short (provider failure mid-stream, turn deadline).
        case incomplete
        /// No answer.
        case error
        /// Paused: tool calls wait for the user's decision (`POST .../approvals/{id}` resumes it).
        case awaitingApproval = "awaiting_approval"
    }

    public let turnID: UUID
    public let conversationID: UUID
    public let status: Status
    /// Every model call of the turn, summed.
    public let usage: Usage
}
