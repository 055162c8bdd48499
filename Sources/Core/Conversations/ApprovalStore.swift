import Foundation
import LLM
import SQLKit
import Storage

/// A tool call an agent made that waits for its user's decision before it runs.
public struct ToolApproval: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case pending, approved, rejected
        /// Approved with arguments the user changed.
        case edited
        /// Not decided in time.
        case expired
        /// The user sent a new message instead of deciding.
        case superseded
    }

    public let id: UUID
    public let conversationID: UUID
    public let userID: UUID
    /// The turn that paused, and its assistant step that asked for the call.
    public let turnID: UUID
    public let messageID: UUID
    /// The step's place in the conversation (`seq` of its message): approvals list in conversation order.
    public let seq: Int
    public let call: ToolCall
    public let agent: String
    public let model: String
    /// As stored: a pending approval past `expiresAt` is still `pending` here; `status(at:)` says `expired`.
    public var status: Status
    public var decidedArguments: JSONValue?
    public var reason: String?
    public let createdAt: Date
    public let expiresAt: Date
    public var decidedAt: Date?

    public init(id: UUID = UUID.random(), conversationID: UUID, userID: UUID, turnID: UUID, messageID: UUID, seq: Int, call: ToolCall, agent: String, model: String,
                createdAt: Date, expiresAt: Date) {
        self.id = id
        self.conversationID = conversationID
        self.userID = userID
        self.turnID = turnID
        self.messageID = messageID
        self.seq = seq
        self.call = call
        self.agent = agent
        self.model = model
        status = .pending
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    public func status(at now: Date) -> Status {
        status == .pending && expiresAt <= now ? .expired : status
    }

    /// The arguments the call runs with once approved.
    public var arguments: JSONValue { decidedArguments ?? call.arguments }
}

/// The `tool_approvals` table. Every read is scoped by the owner: another user's approval is simply not found.
public struct ApprovalStore: Sendable {
    let db: any Database

    public init(db: any Database) {
        self.db = db
    }

    /// The most one conversation lists: a step asks for a handful of calls, and decided ones are history.
    public static let listLimit = 200

    private static let columns = """
        id, conversation_id, user_id, turn_id, message_id, seq, call_id, tool, arguments, agent, model, status, decided_arguments,
        reason, created_at, expires_at, decided_at
        """

    private static func approval(from row: any SQLRow) throws -> ToolApproval {
        func text(_ column: String) throws -> String? { try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self) }
        let call = ToolCall(id: try row.decode(column: "call_id", as: String.self), name: try row.decode(column: "tool", as: String.self),
                            arguments: JSONValue.parse(try row.decode(column: "arguments", as: String.self)) ?? .object([:]))
        var approval = ToolApproval(
            id: try uuid(row, "id"), conversationID: try uuid(row, "conversation_id"), userID: try uuid(row, "user_id"), turnID: try uuid(row, "turn_id"),
            messageID: try uuid(row, "message_id"), seq: Int(try row.decode(column: "seq", as: Int64.self)), call: call, agent: try row.decode(column: "agent", as: String.self),
            model: try row.decode(column: "model", as: String.self),
            createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
            expiresAt: Date(millis: try row.decode(column: "expires_at", as: Int64.self)))
        approval.status = ToolApproval.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .expired
        approval.decidedArguments = try text("decided_arguments").flatMap(JSONValue.parse)
        approval.reason = try text("reason")
        approval.decidedAt = try row.decodeNil(column: "decided_at") ? nil : Date(millis: try row.decode(column: "decided_at", as: Int64.self))
        return approval
    }

    public func insert(_ approvals: [ToolApproval]) async throws {
        try await db.transaction { sql in
            for approval in approvals {
                try await sql.raw("""
                    INSERT INTO tool_approvals (\(unsafeRaw: Self.columns))
                    VALUES (\(bind: approval.id.lowercased), \(bind: approval.conversationID.lowercased), \(bind: approval.userID.lowercased),
                        \(bind: approval.turnID.lowercased), \(bind: approval.messageID.lowercased), \(bind: Int64(approval.seq)),
                        \(bind: approval.call.id),
                        \(bind: approval.call.name), \(bind: approval.call.arguments.jsonString), \(bind: approval.agent), \(bind: approval.model),
                        \(bind: approval.status.rawValue), NULL, NULL, \(bind: approval.createdAt.millis), \(bind: approval.expiresAt.millis), NULL)
                    """).run()
            }
        }
    }

    /// The conversation's approvals, oldest first (the latest `listLimit`).
    public func list(conversationID: UUID, userID: UUID) async throws -> [ToolApproval] {
        try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM tool_approvals
            WHERE conversation_id = \(bind: conversationID.lowercased) AND user_id = \(bind: userID.lowercased)
            ORDER BY seq DESC, created_at DESC, id DESC LIMIT \(bind: Self.listLimit)
            """).map(Self.approval(from:)).reversed()
    }

    public func find(id: UUID, conversationID: UUID, userID: UUID) async throws -> ToolApproval? {
        try await db.first("""
            SELECT \(unsafeRaw: Self.columns) FROM tool_approvals
            WHERE id = \(bind: id.lowercased) AND conversation_id = \(bind: conversationID.lowercased) AND user_id = \(bind: userID.lowercased)
            """).map(Self.approval(from:))
    }

    /// Every approval the step `messageID` asked for.
    public func step(messageID: UUID) async throws -> [ToolApproval] {
        try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM tool_approvals WHERE message_id = \(bind: messageID.lowercased) ORDER BY created_at, id
            """).map(Self.approval(from:))
    }

    /// Records the user's decision on a pending approval that has not expired; false when there is none (decided
    /// already, by a concurrent request too, or expired).
    public func decide(_ id: UUID, userID: UUID, status: ToolApproval.Status, arguments: JSONValue?, reason: String?, now: Date) async throws -> Bool {
        try await db.first("""
            UPDATE tool_approvals SET status = \(bind: status.rawValue), decided_arguments = \(bind: arguments?.jsonString),
                reason = \(bind: reason), decided_at = \(bind: now.millis)
            WHERE id = \(bind: id.lowercased) AND user_id = \(bind: userID.lowercased)
              AND status = \(bind: ToolApproval.Status.pending.rawValue) AND expires_at > \(bind: now.millis)
            RETURNING id
            """) != nil
    }

    /// Closes the conversation's open approvals (`expired` when their time is up, otherwise `closing`) and returns
    /// them as they now are.
    public func close(conversationID: UUID, as closing: ToolApproval.Status, now: Date) async throws -> [ToolApproval] {
        try await db.all("""
            UPDATE tool_approvals SET status = CASE WHEN expires_at <= \(bind: now.millis) THEN \(bind: ToolApproval.Status.expired.rawValue)
                    ELSE \(bind: closing.rawValue) END,
                decided_at = \(bind: now.millis)
            WHERE conversation_id = \(bind: conversationID.lowercased) AND status = \(bind: ToolApproval.Status.pending.rawValue)
            RETURNING \(unsafeRaw: Self.columns)
            """).map(Self.approval(from:))
    }
}
