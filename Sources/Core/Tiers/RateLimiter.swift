import Foundation
import SQLKit
import Storage
import Synchronization

/// What a rate limiter decided, with what the `RateLimit-*` headers say.
public struct RateLimitDecision: Sendable, Equatable {
    public let allowed: Bool
    public let limit: Int
    /// Requests still allowed right now.
    public let remaining: Int
    /// Seconds until the full allowance is back.
    public let resetSeconds: Int
    /// On refusal: seconds until the next request is allowed.
    public let retryAfterSeconds: Int?
}

/// The generic cell rate algorithm: one timestamp per key (the theoretical arrival time, TAT). With `rate` requests
/// a minute, requests are spaced `T = 60 s / rate` apart on average and may come in a burst of `rate` (a minute's
/// worth): a request is allowed when `TAT - now <= T × (rate - 1)`, and then moves the TAT `T` later. Times are in
/// microseconds, so even a million a minute (a team of thousands of seats) keeps its exact spacing.
enum GCRA {
    static func interval(rate: Int) -> Int64 { max(1, 60_000_000 / Int64(max(1, rate))) }
    static func tolerance(rate: Int) -> Int64 { interval(rate: rate) * Int64(max(0, rate - 1)) }

    /// The decision for a stored TAT (nil: never seen), and the TAT to store when allowed.
    static func decide(tat stored: Int64?, now: Int64, rate: Int) -> (decision: RateLimitDecision, newTAT: Int64?) {
        let interval = interval(rate: rate), tolerance = tolerance(rate: rate)
        let tat = max(stored ?? now, now)
        guard tat - now <= tolerance else {
            let wait = tat - now - tolerance
            return (RateLimitDecision(allowed: false, limit: rate, remaining: 0, resetSeconds: seconds(tat - now),
                                      retryAfterSeconds: max(1, seconds(wait))), nil)
        }
        let newTAT = tat + interval
        return (allowed(newTAT: newTAT, now: now, rate: rate), newTAT)
    }

    static func allowed(newTAT: Int64, now: Int64, rate: Int) -> RateLimitDecision {
        let interval = interval(rate: rate), tolerance = tolerance(rate: rate)
        let ahead = newTAT - now
        let remaining = ahead <= tolerance ? Int((tolerance - ahead) / interval) + 1 : 0
        return RateLimitDecision(allowed: true, limit: rate, remaining: min(rate, remaining), resetSeconds: seconds(ahead), retryAfterSeconds: nil)
    }

    /// Whole seconds, rounded up: a client told to wait that long will be let in.
    static func seconds(_ micros: Int64) -> Int { Int((max(0, micros) + 999_999) / 1_000_000) }
}

/// Limits each user's requests to `rate` a minute.
public protocol RateLimiter: Sendable {
    func acquire(user: UUID, rate: Int, now: Date) async throws -> RateLimitDecision
    /// `acquire`'s decision made without suspending, by a limiter that keeps its state in this process; nil from one
    /// that must be asked with `acquire`. A request then makes no async call down to the limiter (each an allocated
    /// frame and an executor check).
    func acquireInProcess(user: UUID, rate: Int, now: Date) -> RateLimitDecision?
}

extension RateLimiter {
    public func acquireInProcess(user: UUID, rate: Int, now: Date) -> RateLimitDecision? { nil }
}

/// In this process only: the limiter for SQLite, where there is one process.
public final class LocalRateLimiter: RateLimiter {
    /// Keyed by the id itself: a text key cost a formatted id, a concatenation and 41 bytes hashed a request.
    private let state = Mutex<[UUID: Int64]>([:])

    public init() {}

    public func acquire(user: UUID, rate: Int, now: Date) async throws -> RateLimitDecision {
        decide(user: user, rate: rate, now: now)
    }

    public func acquireInProcess(user: UUID, rate: Int, now: Date) -> RateLimitDecision? {
        decide(user: user, rate: rate, now: now)
    }

    private func decide(user key: UUID, rate: Int, now: Date) -> RateLimitDecision {
        let micros = now.micros
        return state.withLock { tats in
            // The key is hashed once: its entry is found, then changed in place.
            let entry = tats.index(forKey: key)
            let (decision, newTAT) = GCRA.decide(tat: entry.map { tats.values[$0] }, now: micros, rate: rate)
            if let newTAT {
                if let entry { tats.values[entry] = newTAT } else { tats[key] = newTAT }
            }
            // Keys whose allowance is full again carry no information: drop them now and then.
            if tats.count > 50_000 { tats = tats.filter { $0.value > micros } }
            return decision
        }
    }
}

/// In the database, with one atomic statement per request: every process sharing a PostgreSQL enforces one limit.
public struct DatabaseRateLimiter: RateLimiter {
    let db: any Database
    /// Time the requests by PostgreSQL's clock rather than each process's, so processes whose clocks disagree still
    /// share one limit. Off when tests move the clock themselves.
    let databaseClock: Bool

    public init(db: any Database, databaseClock: Bool) {
        self.db = db
        self.databaseClock = databaseClock && db.engine == .postgres
    }

    public func acquire(user: UUID, rate: Int, now: Date) async throws -> RateLimitDecision {
        let key = Self.key(user)
        let interval = GCRA.interval(rate: rate), tolerance = GCRA.tolerance(rate: rate)
        // statement_timestamp() is one value for the whole statement, however often it is named.
        let clock: SQLQueryString = databaseClock ? "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::BIGINT" : "\(bind: now.micros)"
        let greatest = SQLQueryString(db.engine == .postgres ? "GREATEST" : "MAX") // SQLite's two-argument max()
        // Allowed: the row moves forward in the same statement that checks it, so concurrent requests (in any process)
        // are serialised by the row lock.
        if let row = try await db.first("""
            INSERT INTO rate_limits (key, tat) VALUES (\(bind: key), \(clock) + \(bind: interval))
            ON CONFLICT (key) DO UPDATE SET tat = \(greatest)(rate_limits.tat, \(clock)) + \(bind: interval)
            WHERE \(greatest)(rate_limits.tat, \(clock)) - \(clock) <= \(bind: tolerance)
            RETURNING tat, \(clock) AS now
            """) {
            return GCRA.allowed(newTAT: try row.decode(column: "tat", as: Int64.self), now: try row.decode(column: "now", as: Int64.self), rate: rate)
        }
        let row = try await db.first("SELECT \(clock) AS now, (SELECT tat FROM rate_limits WHERE key = \(bind: key)) AS tat")
        let stored = try row.flatMap { try $0.decodeNil(column: "tat") ? nil : try $0.decode(column: "tat", as: Int64.self) }
        return GCRA.decide(tat: stored, now: try row?.decode(column: "now", as: Int64.self) ?? now.micros, rate: rate).decision
    }

    /// A user's row in `rate_limits`.
    static func key(_ user: UUID) -> String { "user:" + user.lowercased }
}
