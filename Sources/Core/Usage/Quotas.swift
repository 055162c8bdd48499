import Foundation
import SQLKit
import Storage

/// Monthly model-token budgets. A turn is admitted while the user has budget left; what it used is debited once, when
/// it ends (in one transaction with the record of the debit, so a retried or concurrent debit of the same turn cannot
/// count twice, and concurrent turns add up exactly).
public struct Quotas: Sendable {
    let db: any Database
    let plans: Plans
    let clock: WallClock

    public init(db: any Database, plans: Plans, clock: WallClock) {
        self.db = db
        self.plans = plans
        self.clock = clock
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

    /// 402 `quota_exceeded` when the month's budget is spent.
    public func admit(user: User) async throws {
        let balance = try await balance(user: user)
        guard balance.remaining > 0 else {
            var error = AppError(status: 402, code: "quota_exceeded", title: "Payment required",
                                 detail: "This month's model-token budget (\(balance.budget) tokens) is used up. It renews on the 1st (UTC), or upgrade the plan.")
            error.extensions["budget"] = String(balance.budget)
            throw error
        }
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
