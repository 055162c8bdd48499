import Foundation
import LLM
import SQLKit
import Storage

/// The `conversations` and `messages` tables. Every query is scoped by the owner: another user's conversation is
/// simply not found.
public struct ConversationStore: Sendable {
    let db: any Database
    /// What each conversation's model was last shown (`history`), while it fits 4 MiB of stored parts.
    let recent = BudgetCache<UUID, RecentHistory>(budgetBytes: 4 << 20)

    public init(db: any Database) {
        self.db = db
    }

    static let columns = "c.id, c.user_id, c.title, c.agent, c.metadata, c.created_at, c.updated_at"
    /// `columns` as an `UPDATE conversations ... RETURNING` names them (no alias there).
    static let returnedColumns = "id, user_id, title, agent, metadata, created_at, updated_at"

    static func conversation(from row: any SQLRow) throws -> Conversation {
        let metadata = try row.decodeNil(column: "metadata") ? nil : try row.decode(column: "metadata", as: String.self)
        return Conversation(
            id: try uuid(row, "id"), userID: try uuid(row, "user_id"),
            title: try row.decodeNil(column: "title") ? nil : try row.decode(column: "title", as: String.self),
            agent: try row.decodeNil(column: "agent") ? nil : try row.decode(column: "agent", as: String.self),
            metadata: metadata.flatMap(JSONValue.parse) ?? .object([:]),
            createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(millis: try row.decode(column: "updated_at", as: Int64.self)))
    }

    public func create(userID: UUID, title: String?, agent: String?, metadata: JSONValue, now: Date) async throws -> Conversation {
        let conversation = Conversation(id: UUID.random(), userID: userID, title: title, agent: agent, metadata: metadata,
                                        createdAt: now, updatedAt: now)
        try await db.run("""
            INSERT INTO conversations (id, user_id, title, title_folded, agent, metadata, created_at, updated_at, last_seq)
            VALUES (\(bind: conversation.id.lowercased), \(bind: userID.lowercased), \(bind: title), \(bind: title?.folded), \(bind: agent),
                    \(bind: metadata.jsonString), \(bind: now.millis), \(bind: now.millis), 0)
            """)
        return conversation
    }

    public func find(id: UUID, userID: UUID) async throws -> Conversation? {
        try await db.first("""
            SELECT \(unsafeRaw: Self.columns) FROM conversations c WHERE c.id = \(bind: id.lowercased) AND c.user_id = \(bind: userID.lowercased)
            """).map(Self.conversation(from:))
    }

    /// The user's conversations, most recently active first; `query` (folded) matches titles, ignoring case.
    public func list(userID: UUID, query: String?, page: PageRequest) async throws -> Page<Conversation> {
        var filter = SQLQueryString("c.user_id = \(bind: userID.lowercased)")
        if let query, !query.isEmpty {
            filter = "\(filter) AND c.title_folded LIKE \(bind: "%" + Self.escapeLike(query.folded) + "%") ESCAPE '\\'"
        }
        let total = try await db.first("SELECT COUNT(*) AS n FROM conversations c WHERE \(filter)")?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM conversations c WHERE \(filter)
            ORDER BY c.updated_at DESC, c.id DESC LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.conversation(from:)), total: total, request: page)
    }

    /// Saves a changed conversation; nil when it is not the user's.
    public func update(_ conversation: Conversation, now: Date) async throws -> Conversation? {
        let row = try await db.first("""
            UPDATE conversations SET title = \(bind: conversation.title), title_folded = \(bind: conversation.title?.folded),
                agent = \(bind: conversation.agent),
                metadata = \(bind: conversation.metadata.jsonString), updated_at = \(bind: now.millis)
            WHERE id = \(bind: conversation.id.lowercased) AND user_id = \(bind: conversation.userID.lowercased)
            RETURNING id
            """)
        guard row != nil else { return nil }
        var updated = conversation
        updated.updatedAt = now
        return updated
    }

    /// Deletes the conversation and its messages; false when it is not the user's.
    public func delete(id: UUID, userID: UUID) async throws -> Bool {
        try await db.transaction { sql in
            let owned = try await sql.raw("""
                SELECT id FROM conversations WHERE id = \(bind: id.lowercased) AND user_id = \(bind: userID.lowercased)
                """).first()
            guard owned != nil else { return false }
            try await sql.raw("DELETE FROM tool_approvals WHERE conversation_id = \(bind: id.lowercased)").run()
            try await sql.raw("DELETE FROM messages WHERE conversation_id = \(bind: id.lowercased)").run()
            try await sql.raw("DELETE FROM conversations WHERE id = \(bind: id.lowercased)").run()
            recent.remove(id)
            return true
        }
    }

    /// The user's conversation of an app's chat route (`route`: its method and path), created on first use. Two
    /// first uses at once agree on one conversation: the loser's is deleted.
    public func routeConversation(app: String, route: String, userID: UUID, agent: String, now: Date) async throws -> UUID {
        func existing() async throws -> UUID? {
            try await db.first("""
                SELECT conversation_id FROM route_conversations
                WHERE app = \(bind: app) AND route = \(bind: route) AND user_id = \(bind: userID.lowercased)
                """).flatMap { UUID.parse(try $0.decode(column: "conversation_id", as: String.self)) }
        }
        if let id = try await existing() { return id }
        let created = try await create(userID: userID, title: route, agent: agent, metadata: ["chat_route": .string(route)], now: now)
        let claimed = try await db.first("""
            INSERT INTO route_conversations (app, route, user_id, conversation_id)
            VALUES (\(bind: app), \(bind: route), \(bind: userID.lowercased), \(bind: created.id.lowercased))
            ON CONFLICT (app, route, user_id) DO NOTHING RETURNING conversation_id
            """)
        if claimed != nil { return created.id }
        _ = try await delete(id: created.id, userID: userID)
        guard let id = try await existing() else { throw AppError.conflict("turn_in_progress", "The conversation is being set up; try again.") }
        return id
    }

    // MARK: Turns

    public enum TurnStart: Sendable {
        /// Claimed; `approvalsPending` says whether calls of an earlier turn still wait for the user's decision.
        case started(Conversation, approvalsPending: Bool)
        case notFound
        /// Another turn is running on this conversation.
        case busy
        /// The user already has `maxRunning` turns running.
        case tooManyTurns
    }

    /// Claims the conversation for one turn, in the database so that it holds across processes, as long as the user
    /// runs fewer than `maxRunning` turns. The claim lapses at `leaseUntil`, so a process that died mid-turn does not
    /// block the conversation for ever. (On PostgreSQL two claims racing on different conversations may both pass the
    /// count: the cap bounds a user's turns, it is not an exact quota.)
    public func beginTurn(conversationID: UUID, userID: UUID, turnID: UUID, now: Date, leaseUntil: Date,
                          maxRunning: Int) async throws -> TurnStart {
        let claimed = try await db.first("""
            UPDATE conversations SET turn_id = \(bind: turnID.lowercased), turn_expires_at = \(bind: leaseUntil.millis),
                updated_at = \(bind: now.millis)
            WHERE id = \(bind: conversationID.lowercased) AND user_id = \(bind: userID.lowercased)
              AND (turn_id IS NULL OR turn_expires_at <= \(bind: now.millis))
              AND (SELECT COUNT(*) FROM conversations r WHERE r.user_id = \(bind: userID.lowercased)
                   AND r.turn_id IS NOT NULL AND r.turn_expires_at > \(bind: now.millis)) < \(bind: maxRunning)
            RETURNING \(unsafeRaw: Self.returnedColumns),
                CASE WHEN EXISTS (SELECT 1 FROM tool_approvals a WHERE a.conversation_id = conversations.id
                                  AND a.status = \(bind: ToolApproval.Status.pending.rawValue)) THEN 1 ELSE 0 END AS approvals_pending
            """)
        guard let claimed else {
            guard let row = try await db.first("""
                SELECT turn_id, turn_expires_at FROM conversations WHERE id = \(bind: conversationID.lowercased) AND user_id = \(bind: userID.lowercased)
                """) else { return .notFound }
            let running = try !row.decodeNil(column: "turn_id") && row.decode(column: "turn_expires_at", as: Int64.self) > now.millis
            return running ? .busy : .tooManyTurns
        }
        // The claimed row as updated, and whether approvals wait: no more statements (on SQLite, transactions) to
        // learn either. No other turn can add approvals to the conversation while this one holds it.
        return .started(try Self.conversation(from: claimed), approvalsPending: try claimed.decode(column: "approvals_pending", as: Int.self) != 0)
    }

    public func endTurn(conversationID: UUID, turnID: UUID, now: Date) async throws {
        try await db.run("""
            UPDATE conversations SET turn_id = NULL, turn_expires_at = NULL, updated_at = \(bind: now.millis)
            WHERE id = \(bind: conversationID.lowercased) AND turn_id = \(bind: turnID.lowercased)
            """)
    }

    // MARK: Messages

    static let messageColumns = """
        m.id, m.conversation_id, m.turn_id, m.seq, m.role, m.parts, m.model, m.provider, m.agent, m.status, m.finish_reason,
        m.input_tokens, m.output_tokens, m.cached_input_tokens, m.cache_write_tokens, m.reasoning_tokens,
        m.error_code, m.error_message, m.created_at, m.completed_at
        """

    static func message(from row: any SQLRow) throws -> StoredMessage {
        func optional(_ column: String) throws -> String? {
            try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self)
        }
        func count(_ column: String) throws -> Int { Int(try row.decode(column: column, as: Int64.self)) }
        let (parts, signature) = PartsCoding.decode(JSONValue.parse(try row.decode(column: "parts", as: String.self)) ?? .array([]))
        var message = StoredMessage(
            id: try uuid(row, "id"), conversationID: try uuid(row, "conversation_id"), turnID: try uuid(row, "turn_id"),
            role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .user, parts: parts, textSignature: signature,
            model: try optional("model"), provider: try optional("provider"), agent: try optional("agent"),
            status: MessageStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .complete,
            finishReason: try optional("finish_reason"),
            usage: Usage(inputTokens: try count("input_tokens"), outputTokens: try count("output_tokens"),
                         cachedInputTokens: try count("cached_input_tokens"), cacheWriteTokens: try count("cache_write_tokens"),
                         reasoningTokens: try count("reasoning_tokens")),
            error: try optional("error_code").map { MessageError(code: $0, message: try optional("error_message") ?? "") },
            createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
            completedAt: try row.decodeNil(column: "completed_at") ? nil : Date(millis: try row.decode(column: "completed_at", as: Int64.self)))
        message.seq = Int(try row.decode(column: "seq", as: Int64.self))
        return message
    }

    /// Appends a message to its conversation and returns it with its place (`seq`), taken from the conversation's
    /// counter in the same transaction: tool results stored at the same moment get distinct places on every engine.
    public func append(_ message: StoredMessage, userID: UUID) async throws -> StoredMessage {
        var stored = message
        let usage = message.usage
        let conversation = message.conversationID.lowercased
        let error = message.error.map { MessageError(code: $0.code, message: $0.message.withoutNUL) }
        stored.seq = try await db.transaction { sql in
            guard let row = try await sql.raw("""
                UPDATE conversations SET last_seq = last_seq + 1 WHERE id = \(bind: conversation) AND user_id = \(bind: userID.lowercased)
                RETURNING last_seq
                """).first() else { throw AppError.notFound("conversation") }
            let seq = try row.decode(column: "last_seq", as: Int64.self)
            try await sql.raw("""
                INSERT INTO messages (id, conversation_id, user_id, turn_id, seq, role, parts, text_folded, model, provider, agent, status,
                    finish_reason, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
                    error_code, error_message, created_at, completed_at)
                VALUES (\(bind: message.id.lowercased), \(bind: conversation), \(bind: userID.lowercased),
                    \(bind: message.turnID.lowercased), \(bind: seq), \(bind: message.role.rawValue),
                    \(bind: PartsCoding.encode(message.parts, textSignature: message.textSignature).jsonString),
                    \(bind: message.searchableText.folded), \(bind: message.model), \(bind: message.provider), \(bind: message.agent), \(bind: message.status.rawValue),
                    \(bind: message.finishReason), \(bind: Int64(usage.inputTokens)), \(bind: Int64(usage.outputTokens)),
                    \(bind: Int64(usage.cachedInputTokens)), \(bind: Int64(usage.cacheWriteTokens)), \(bind: Int64(usage.reasoningTokens)),
                    \(bind: error?.code), \(bind: error?.message), \(bind: message.createdAt.millis), \(bind: message.completedAt?.millis))
                """).run()
            return Int(seq)
        }
        stored.error = error
        return stored
    }

    /// The conversation's messages, oldest first.
    public func messages(conversationID: UUID, userID: UUID, page: PageRequest) async throws -> Page<StoredMessage> {
        let filter: SQLQueryString = "m.conversation_id = \(bind: conversationID.lowercased) AND m.user_id = \(bind: userID.lowercased)"
        let total = try await db.first("SELECT COUNT(*) AS n FROM messages m WHERE \(filter)")?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.messageColumns) FROM messages m WHERE \(filter)
            ORDER BY m.seq LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.message(from:)), total: total, request: page)
    }

    /// The latest `limit` messages of a user's conversation, oldest first: a conversation shown with its messages.
    public func latestMessages(conversationID: UUID, userID: UUID, limit: Int) async throws -> [StoredMessage] {
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.messageColumns) FROM messages m
            WHERE m.conversation_id = \(bind: conversationID.lowercased) AND m.user_id = \(bind: userID.lowercased)
            ORDER BY m.seq DESC LIMIT \(bind: limit)
            """)
        return try rows.reversed().map(Self.message(from:))
    }

    /// The latest `limit` messages of a conversation that hold something (failed steps do not), oldest first: what the
    /// model is shown, on every turn. Only what came after the last read is read and parsed (in a long conversation,
    /// reading its 100 latest messages again was a third of a turn's instructions): a message never changes once
    /// written, and its place (`seq`) is taken from the conversation's counter under the conversation's row lock, so
    /// places become visible in order, to this process and to any other sharing the database. The conversation's row
    /// comes with the read (one row with no message when nothing is new, none once it is deleted).
    public func history(conversationID: UUID, limit: Int) async throws -> [ChatMessage] {
        let held = recent.value(for: conversationID, where: { $0.limit == limit })
        let rows = try await db.all("""
            SELECT c.last_seq, m.seq, m.role, m.parts FROM conversations c
            LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq > \(bind: held?.lastSeq ?? 0)
                AND m.status <> \(bind: MessageStatus.error.rawValue)
            WHERE c.id = \(bind: conversationID.lowercased)
            ORDER BY m.seq DESC LIMIT \(bind: limit)
            """)
        guard let first = rows.first else {
            recent.remove(conversationID)
            return []
        }
        var messages = held?.messages ?? []
        for row in rows.reversed() where !(try row.decodeNil(column: "seq")) {
            let stored = try row.decode(column: "parts", as: String.self)
            let (parts, signature) = PartsCoding.decode(JSONValue.parse(stored) ?? .array([]))
            let message = ChatMessage(role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .user, parts: parts,
                                      textSignature: signature)
            messages.append((message, 2 * stored.utf8.count + RecentHistory.overheadBytes))
        }
        if messages.count > limit { messages.removeFirst(messages.count - limit) }
        let read = RecentHistory(lastSeq: try first.decode(column: "last_seq", as: Int64.self), limit: limit, messages: messages)
        recent.store(read, bytes: messages.reduce(0) { $0 + $1.bytes }, for: conversationID,
                     unless: { $0.limit == limit && $0.lastSeq > read.lastSeq })
        return messages.map(\.message)
    }

    public struct SearchHit: Sendable {
        public let message: StoredMessage
        public let conversationTitle: String?
    }

    /// The user's messages whose text contains `query` (ignoring case, folded as `String.folded`), newest first.
    public func search(userID: UUID, query: String, limit: Int) async throws -> [SearchHit] {
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.messageColumns), c.title FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE m.user_id = \(bind: userID.lowercased) AND c.user_id = \(bind: userID.lowercased)
              AND m.text_folded LIKE \(bind: "%" + Self.escapeLike(query.folded) + "%") ESCAPE '\\'
            ORDER BY m.created_at DESC, m.seq DESC LIMIT \(bind: limit)
            """)
        return try rows.map { row in
            SearchHit(message: try Self.message(from: row),
                      conversationTitle: try row.decodeNil(column: "title") ? nil : try row.decode(column: "title", as: String.self))
        }
    }

    /// `%`, `_` and the escape character itself match literally.
    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }
}
