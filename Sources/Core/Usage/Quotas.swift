import Foundation
import SQLKit
import Storage
import Synchronization

/// Monthly model-token budgets and storage quotas. A turn is admitted while the user has budget left (and each of its
/// model steps, counting what the turn used so far); what it used is debited once, when it ends (in one transaction
/// with the record of the debit, so a retried or concurrent debit of the same turn cannot count twice, and concurrent
/// turns add up exactly).
public struct Quotas: Sendable {
    public static let storageRecheck: TimeInterval = 30
    let db: any Database
    let plans: Plans
    let clock: WallClock
    /// The last storage figure per user, and when it was measured.
    private let storage = StorageFigures()
    /// Tables of user-owned records (a blueprint's collections) that count toward the quota too.
    let recordTables: [RecordTable]

    /// A table whose rows were created by users (`owner_id`), and its text columns.
    public struct RecordTable: Sendable {
        public let name: String
        public let textColumns: [String]

        public init(name: String, textColumns: [String]) {
            self.name = name
            self.textColumns = textColumns
        }
    }

    public init(db: any Database, plans: Plans, clock: WallClock, recordTables: [RecordTable] = []) {
        self.db = db
        self.plans = plans
        self.clock = clock
        self.recordTables = recordTables
    }

    public struct Balance: Sendable, Equatable {
        public let month: String
        public let budget: Int64
        public let used: Int64
        /// Never below zero: a turn admitted with budget left may end above it.
        public var remaining: Int64 { max(0, budget - used) }
    }

    /// `YYYY-MM`, UTC: budgets reset on the first of the month.
    public static func month(_ date: Date) -> String { String(RFC3339.format(date, fractionalDigits: 0).prefix(7)) }

    public func balance(user: User) async throws -> Balance {
        let month = Self.month(clock.now)
        let used = try await db.first("""
            SELECT tokens FROM token_usage_monthly WHERE user_id = \(bind: user.id.lowercased) AND month = \(bind: month)
            """)?.decode(column: "tokens", as: Int64.self) ?? 0
        return Balance(month: month, budget: plans.tier(user.tier).monthlyTokens(seats: user.seats), used: used)
    }

    /// 402 `quota_exceeded` when the month's budget is spent, counting `pending` tokens a running turn has used
    /// but not yet debited.
    public func admit(user: User, pending: Int64 = 0) async throws {
        let balance = try await balance(user: user)
        guard balance.remaining - pending > 0 else {
            var error = AppError(status: 402, code: "quota_exceeded", title: "Payment required",
                                 detail: "This month's model-token budget (\(balance.budget) tokens) is used up. It renews on the 1st (UTC), or upgrade the plan.")
            error.extensions["budget"] = String(balance.budget)
            throw error
        }
    }

    // MARK: Storage

    /// Roughly what the user stores: the text of their messages and their conversations' titles and metadata, their
    /// memories (text, tags, metadata and vector), and
    /// their records in a blueprint's collections (their text and JSON, and 100 bytes a record for the rest), in
    /// bytes (characters on PostgreSQL).
    public func storageBytes(userID: UUID) async throws -> Int64 {
        var query: SQLQueryString = """
            SELECT (SELECT COALESCE(SUM(LENGTH(parts)), 0) FROM messages WHERE user_id = \(bind: userID.lowercased))
                 + (SELECT COALESCE(SUM(LENGTH(metadata) + COALESCE(LENGTH(title), 0)), 0) FROM conversations
                    WHERE user_id = \(bind: userID.lowercased))
                 + (SELECT COALESCE(SUM(LENGTH(text) + LENGTH(tags) + LENGTH(metadata) + LENGTH(embedding)), 0) FROM memories
                    WHERE user_id = \(bind: userID.lowercased))
            """
        for table in recordTables {
            let lengths = table.textColumns.map { "COALESCE(LENGTH(\"\($0)\"), 0)" }.joined(separator: " + ")
            query = query + " + (SELECT COALESCE(SUM(100\(unsafeRaw: lengths.isEmpty ? "" : " + " + lengths)), 0) FROM \(ident: table.name) "
                + "WHERE owner_id = \(bind: userID.lowercased))"
        }
        let row = try await db.first(query + " AS n")
        let bytes = try row?.decode(column: "n", as: Int64.self) ?? 0
        let now = clock.now
        storage.figures.withLock { figures in
            if figures.count > 10_000 { figures = figures.filter { now.timeIntervalSince($0.value.at) < Self.storageRecheck } }
            figures[userID] = (bytes, now)
        }
        return bytes
    }

    /// What the user stores, as last measured if that was less than `storageRecheck` ago: summing is a scan, and a
    /// client may ask for its plan as often as its rate allows.
    public func recentStorageBytes(userID: UUID) async throws -> Int64 {
        if let cached = recentFigure(userID, now: clock.now) { return cached }
        return try await storageBytes(userID: userID)
    }

    private func recentFigure(_ userID: UUID, now: Date) -> Int64? {
        guard let cached = storage.figures.withLock({ $0[userID] }), now.timeIntervalSince(cached.at) < Self.storageRecheck else { return nil }
        return cached.bytes
    }

    /// 402 `storage_quota_exceeded` once the user stores more than the plan allows: no new conversations, turns or records
    /// until they delete some (or upgrade). Summing a user's messages is a scan, so a figure up to
    /// `storageRecheck` old is trusted: the limit may be passed by what is written in that time.
    public func admitStorage(user: User) async throws {
        let quota = plans.tier(user.tier).storageBytes
        let now = clock.now
        // A figure over the quota is always measured again: deleting conversations frees the user at once.
        let bytes: Int64
        if let cached = recentFigure(user.id, now: now), cached < quota {
            bytes = cached
        } else {
            bytes = try await storageBytes(userID: user.id)
        }
        guard bytes >= quota else { return }
        var error = AppError(status: 402, code: "storage_quota_exceeded", title: "Payment required",
                             detail: "Your conversations and records take \(bytes / Plans.megabyte) MiB of the \(quota / Plans.megabyte) MiB your plan allows. Delete some, or upgrade the plan.")
        error.extensions["storage_bytes"] = String(quota)
        throw error
    }

    public func debit(turnID: UUID, userID: UUID, tokens: Int64) async throws {
        guard tokens > 0 else { return }
        let month = Self.month(clock.now)
        let now = clock.now.millis
        try await db.transaction { sql in
            let first = try await sql.raw("""
                INSERT INTO quota_debits (turn_id, user_id, month, tokens, created_at)
                VALUES (\(bind: turnID.lowercased), \(bind: userID.lowercased), \(bind: month), \(bind: tokens), \(bind: now))
                ON CONFLICT (turn_id) DO NOTHING RETURNING turn_id
                """).first()
            guard first != nil else { return }
            try await sql.raw("""
                INSERT INTO token_usage_monthly (user_id, month, tokens) VALUES (\(bind: userID.lowercased), \(bind: month), \(bind: tokens))
                ON CONFLICT (user_id, month) DO UPDATE SET tokens = token_usage_monthly.tokens + excluded.tokens
                """).run()
        }
    }
}

/// The last storage figure per user and when it was measured, shared by every copy of `Quotas`.
private final class StorageFigures: Sendable {
    let figures = Mutex<[UUID: (bytes: Int64, at: Date)]>([:])
}
