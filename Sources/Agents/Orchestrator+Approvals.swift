import Core
import Foundation
import LLM

/// Human approval: a turn whose step asks for calls that need the user's say stores them as pending approvals and
/// ends `awaiting_approval`; the user's decision on the last of them resumes the conversation as a new turn, which
/// runs the approved calls (or tells the model of the rejection) and goes on. Everything lives in the database, so
/// a restart between the pause and the decision loses nothing.
extension Orchestrator {
    public struct Decision: Sendable {
        public enum Kind: String, Sendable {
            case approve, reject, edit
        }

        public let user: User
        public let conversationID: UUID
        public let approvalID: UUID
        public let kind: Kind
        /// The arguments to run with instead of the model's (`edit` only).
        public let arguments: JSONValue?
        /// Why, told to the model (with a rejection above all).
        public let reason: String?

        public init(user: User, conversationID: UUID, approvalID: UUID, kind: Kind, arguments: JSONValue?, reason: String?) {
            self.user = user
            self.conversationID = conversationID
            self.approvalID = approvalID
            self.kind = kind
            self.arguments = arguments
            self.reason = reason
        }
    }

    public enum DecisionOutcome: Sendable {
        /// The step's last open call was decided: the conversation goes on.
        case resumed(Turn)
        /// Recorded; other calls of the same step still wait.
        case waiting(ToolApproval, pending: [ToolApproval])
    }

    public static let maxReasonCharacters = 2_000

    /// The conversation's approvals, oldest first; 404 when the conversation is not the user's.
    public func approvals(conversationID: UUID, userID: UUID) async throws -> [ToolApproval] {
        guard try await conversations.find(id: conversationID, userID: userID) != nil else { throw AppError.notFound("conversation") }
        return try await approvals.list(conversationID: conversationID, userID: userID)
    }

    /// Records the user's decision. 404 when the approval is not theirs, 409 `approval_decided` or `approval_expired`
    /// when it is no longer open, 400 for edited arguments the tool would refuse, 409 `turn_in_progress` while a turn
    /// runs on the conversation.
    public func decide(_ decision: Decision) async throws -> DecisionOutcome {
        var errors: [FieldError] = []
        if let reason = decision.reason {
            if reason.unicodeScalars.count > Self.maxReasonCharacters {
                errors.append(FieldError(field: "reason", code: "too_long", message: "must be at most \(Self.maxReasonCharacters) characters"))
            }
            if reason.containsNUL { errors.append(FieldError(field: "reason", code: "invalid_character", message: "must not contain NUL characters")) }
        }
        switch (decision.kind, decision.arguments) {
        case (.edit, nil): errors.append(FieldError(field: "arguments", code: "required", message: "is required to edit a call"))
        case (.approve, .some), (.reject, .some):
            errors.append(FieldError(field: "arguments", code: "not_allowed", message: "is only given with the decision edit"))
        default: break
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }

        let now = clock.now
        guard let approval = try await approvals.find(id: decision.approvalID, conversationID: decision.conversationID,
                                                      userID: decision.user.id) else { throw AppError.notFound("approval") }
        try Self.requireOpen(approval, now: now)
        let agent = try await resumingAgent(approval, user: decision.user)
        var checkLogger = logger
        checkLogger[metadataKey: "approval_id"] = "\(approval.id.lowercased)"
        let toolContext = ToolContext(userID: decision.user.id, tier: decision.user.tier, conversationID: approval.conversationID,
                                      app: environment, logger: checkLogger)
        if let arguments = decision.arguments {
            let edited = ToolCall(id: approval.call.id, name: approval.call.name, arguments: arguments)
            if let refusal = await runner.check(edited, allowed: agent.tools, context: toolContext) {
                let message = refusal.content["error"]?.stringValue ?? "are not valid for this tool"
                throw AppError.validation([FieldError(field: "arguments", code: "invalid_arguments", message: message)])
            }
        }

        // The conversation is claimed before the decision is written, so decisions on one step are taken one at a
        // time and exactly one of them (the last) resumes the turn.
        let turnID = UUID.random()
        _ = try await claim(approval.conversationID, userID: decision.user.id, turnID: turnID, now: now)
        do {
            let status: ToolApproval.Status = switch decision.kind {
            case .approve: .approved
            case .reject: .rejected
            case .edit: .edited
            }
            guard try await approvals.decide(approval.id, userID: decision.user.id, status: status, arguments: decision.arguments,
                                             reason: decision.reason, now: now) else {
                // Decided or expired between the read and the write.
                try Self.requireOpen(try await approvals.find(id: approval.id, conversationID: approval.conversationID,
                                                              userID: decision.user.id) ?? approval, now: now)
                throw AppError.conflict("approval_decided", "This call has been decided already.")
            }
            let step = try await approvals.step(messageID: approval.messageID)
            let decided = step.first { $0.id == approval.id } ?? approval
            let open = step.filter { $0.status(at: now) == .pending }
            guard open.isEmpty else {
                try await conversations.endTurn(conversationID: approval.conversationID, turnID: turnID, now: now)
                return .waiting(decided, pending: open)
            }
            // The step's calls nobody decided in time are closed as expired, and answered so to the model.
            _ = try await approvals.close(conversationID: approval.conversationID, as: .expired, now: now)
            let resuming = step.map { $0.status == .pending ? ToolApproval.expired($0) : $0 }
            let context = TurnContext(id: turnID, conversationID: approval.conversationID, user: decision.user, agent: agent,
                                      requestedModel: router.models[approval.model] != nil ? approval.model : nil, defaultModel: router.defaultModel,
                                      journal: conversations)
            return .resumed(launch(context, first: [], resuming: resuming))
        } catch {
            try? await conversations.endTurn(conversationID: approval.conversationID, turnID: turnID, now: now)
            throw error
        }
    }

    private static func requireOpen(_ approval: ToolApproval, now: Date) throws {
        switch approval.status(at: now) {
        case .pending: return
        case .expired: throw AppError.conflict("approval_expired", "This call waited longer than it may and was not run; ask again.")
        default: throw AppError.conflict("approval_decided", "This call has been decided already (\(approval.status.rawValue)).")
        }
    }

    /// The agent that paused, held to the user's plan as a new turn is (the default agent if it is gone since).
    private func resumingAgent(_ approval: ToolApproval, user: User) async throws -> AgentDefinition {
        guard let agent = agents[approval.agent] ?? agents[defaultAgent] else { throw AppError.validation([unknownAgent(approval.agent)]) }
        try await policy?.admit(user: user, agent: agent.name)
        return prepared(agent, for: user)
    }

    var runner: ToolRunner {
        ToolRunner(registry: tools, timeout: settings.toolTimeout, maxResultCharacters: settings.maxToolResultCharacters)
    }

    /// Runs the approved calls of the paused step (with the user's arguments when edited) and answers the others with
    /// what became of them, each result stored as it comes.
    func runDecided(_ step: [ToolApproval], turn: TurnContext, context: ToolContext,
                    finished: @escaping @Sendable (ToolResult) async -> Void) async {
        var approved: [ToolCall] = []
        for approval in step {
            switch approval.status {
            case .approved, .edited:
                approved.append(ToolCall(id: approval.call.id, name: approval.call.name, arguments: approval.arguments))
            default:
                await finished(Self.notRun(approval))
            }
        }
        _ = await runner.run(approved, allowed: turn.agent.tools, context: context, finished: finished)
    }

    /// Closes the conversation's open approvals when the user writes instead of deciding, storing for each call the
    /// result the model reads: not run, and why.
    func closeApprovals(conversationID: UUID, userID: UUID, turnID: UUID, now: Date) async throws -> [StoredMessage] {
        var stored: [StoredMessage] = []
        for approval in try await approvals.close(conversationID: conversationID, as: .superseded, now: now) {
            stored.append(try await conversations.append(StoredMessage(
                conversationID: conversationID, turnID: turnID, role: .tool, parts: [.toolResult(Self.notRun(approval))],
                createdAt: now, completedAt: now), userID: userID))
        }
        return stored
    }

    /// The result of a call the user did not approve.
    static func notRun(_ approval: ToolApproval) -> ToolResult {
        let why: String = switch approval.status {
        case .rejected: "The user rejected this call; it was not run." + (approval.reason.map { " Their reason: \($0)" } ?? "")
        case .superseded: "The user sent a new message instead of approving this call; it was not run."
        default: "The user did not approve this call in time; it was not run."
        }
        return ToolRunner.failure(approval.call, why)
    }
}

extension ToolApproval {
    static func expired(_ approval: ToolApproval) -> ToolApproval {
        var closed = approval
        closed.status = .expired
        return closed
    }
}
