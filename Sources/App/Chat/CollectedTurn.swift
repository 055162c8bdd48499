import Agents
import Core
import Foundation

/// A turn's events collected into its outcome, for answers given as one JSON document when the turn is over.
struct CollectedTurn {
    let turnID: UUID
    let conversationID: UUID
    /// Every message the turn stored, in order.
    var messages: [StoredMessage] = []
    /// The calls the turn left waiting for the user's decision.
    var approvals: [ToolApproval] = []
    var failure: TurnFailure?
    var summary: TurnSummary?

    init(_ turn: Orchestrator.Turn) {
        turnID = turn.id
        conversationID = turn.conversationID
    }

    mutating func add(_ event: ChatEvent) {
        switch event {
        case .messageCompleted(let message), .toolResult(let message): messages.append(message)
        case .approvalRequired(let approval): approvals.append(approval)
        case .error(let error): failure = error
        case .done(let done): summary = done
        case .messageDelta, .toolCall, .agentSelected, .keepAlive: break
        }
    }

    /// Waits for the turn's end. A failed turn throws its problem (what it produced is stored all the same).
    static func collect(_ turn: Orchestrator.Turn) async throws -> Outcome {
        var collected = CollectedTurn(turn)
        for await event in turn.events { collected.add(event) }
        return try collected.outcome()
    }

    /// The turn as it ended: its problem when it failed.
    func outcome() throws -> Outcome {
        if let failure { throw failure.appError }
        guard let summary, let final = messages.last(where: { $0.role == .assistant }) else {
            throw AppError(status: 500, code: "internal_error", title: "Internal server error", detail: "The turn ended without an answer.")
        }
        return Outcome(turnID: turnID, conversationID: conversationID, messages: messages, approvals: approvals, summary: summary, final: final)
    }

    struct Outcome {
        let turnID: UUID
        let conversationID: UUID
        let messages: [StoredMessage]
        let approvals: [ToolApproval]
        let summary: TurnSummary
        /// The turn's last assistant message.
        let final: StoredMessage

        /// As the contract says a turn's status: a failed turn has thrown already, and a cut-short one is `incomplete`.
        var status: String {
            switch summary.status {
            case .complete: "complete"
            case .awaitingApproval: "awaiting_approval"
            case .incomplete, .error: "incomplete"
            }
        }
    }
}
