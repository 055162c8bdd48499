import Foundation
import LLM
import SQLKit
import Storage

/// Token usage per user, per UTC day and per model (`usage_daily`): the base for quotas and usage reports.
public struct UsageStore: Sendable {
    let db: any Database

    public init(db: any Database) {
        self.db = db
    }

    /// Adds one model call's usage, atomically (an upsert), so concurrent turns never lose a count.
    public func record(userID: UUID, model: String, usage: Usage, at date: Date) async throws {
        try await db.run("""
            INSERT INTO usage_daily (user_id, day, model, requests, input_tokens, output_tokens, cached_input_tokens,
                cache_write_tokens, reasoning_tokens)
            VALUES (\(bind: userID.lowercased), \(bind: Self.day(date)), \(bind: model), 1, \(bind: Int64(usage.inputTokens)),
                \(bind: Int64(usage.outputTokens)), \(bind: Int64(usage.cachedInputTokens)), \(bind: Int64(usage.cacheWriteTokens)),
                \(bind: Int64(usage.reasoningTokens)))
            ON CONFLICT (user_id, day, model) DO UPDATE SET
                requests = usage_daily.requests + 1,
                input_tokens = usage_daily.input_tokens + excluded.input_tokens,
                output_tokens = usage_daily.output_tokens + excluded.output_tokens,
                cached_input_tokens = usage_daily.cached_input_tokens + excluded.cached_input_tokens,
                cache_write_tokens = usage_daily.cache_write_tokens + excluded.cache_write_tokens,
                reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens
            """)
    }

    public struct DailyUsage: Sendable, Equatable {
        public let day: String
        public let model: String
        public let requests: Int
        public let usage: Usage
    }

    /// The user's usage from `from` to `to` (UTC days, inclusive, `YYYY-MM-DD`), by day and model.
    public func daily(userID: UUID, from: String, to: String) async throws -> [DailyUsage] {
        let rows = try await db.all("""
            SELECT day, model, requests, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens
            FROM usage_daily WHERE user_id = \(bind: userID.lowercased) AND day >= \(bind: from) AND day <= \(bind: to)
            ORDER BY day, model
            """)
        return try rows.map { row in
            func count(_ column: String) throws -> Int { Int(try row.decode(column: column, as: Int64.self)) }
            return DailyUsage(day: try row.decode(column: "day", as: String.self), model: try row.decode(column: "model", as: String.self),
                              requests: try count("requests"),
                              usage: Usage(inputTokens: try count("input_tokens"), outputTokens: try count("output_tokens"),
                                           cachedInputTokens: try count("cached_input_tokens"),
                                           cacheWriteTokens: try count("cache_write_tokens"), reasoningTokens: try count("reasoning_tokens")))
        }
    }

    /// `YYYY-MM-DD` in UTC.
    public static func day(_ date: Date) -> String {
        String(RFC3339.format(date, fractionalDigits: 0).prefix(10))
    }
}
