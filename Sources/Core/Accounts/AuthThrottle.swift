import Foundation
import SQLKit
import Storage

/// Counts attempts per bucket (a client address or an account) in a sliding window, in the database so that every
/// process sharing it counts together. Used for failed logins and for signups.
struct AuthThrottle: Sendable {
    let db: any Database
    let windowSeconds: Int

    /// Throws 429 when any bucket already holds `limit` attempts in the window.
    func check(_ buckets: [String], limit: Int, now: Date) async throws {
        let since = now.millis - Int64(windowSeconds) * 1000
        for bucket in buckets {
            guard let row = try await db.first("""
                SELECT COUNT(*) AS n, MIN(occurred_at) AS oldest FROM auth_attempts
                WHERE bucket = \(bind: bucket) AND occurred_at > \(bind: since)
                """) else { continue }
            let count = try row.decode(column: "n", as: Int.self)
            guard count >= limit, try !row.decodeNil(column: "oldest") else { continue }
            let oldest = try row.decode(column: "oldest", as: Int64.self)
            // The window frees its oldest attempt at `oldest + window`.
            let wait = Double(oldest - since) / 1000
            throw AppError.rateLimited(retryAfter: max(1, Int(wait.rounded(.up))))
        }
    }

    func record(_ buckets: [String], now: Date) async throws {
        for bucket in buckets {
            try await db.run("INSERT INTO auth_attempts (bucket, occurred_at) VALUES (\(bind: bucket), \(bind: now.millis))")
        }
        // Keep the table small: attempts older than the window no longer count.
        if Int.random(in: 0..<50) == 0 {
            try await db.run("DELETE FROM auth_attempts WHERE occurred_at <= \(bind: now.millis - Int64(windowSeconds) * 1000)")
        }
    }

    func clear(_ bucket: String) async throws {
        try await db.run("DELETE FROM auth_attempts WHERE bucket = \(bind: bucket)")
    }

    static func address(_ client: ClientInfo, _ action: String) -> String { "\(action):ip:\(client.address)" }
    static func account(_ email: String, _ action: String) -> String { "\(action):account:\(email)" }
}
