import AsyncHTTPClient
import Core
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SQLKit
import Storage

/// Delivers the webhooks blueprint hooks wrote to `webhook_outbox`, after the changes they report committed.
///
/// Each delivery is claimed first (its next attempt moved a minute on, only if nobody moved it already), so several
/// processes sharing a PostgreSQL never send one twice at once; a 2xx marks it delivered, anything else is retried
/// after `retryBase` doubling each time (at most an hour), up to `maxAttempts`, then it is marked failed. Rows stay
/// in the table (delivered ones for a week, failed ones until an operator deletes them), so what was sent and what
/// failed can be read with SQL. Bodies are signed in Stripe's scheme:
/// `Switchboard-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the secret in the environment
/// variable the hook names.
struct WebhookWorker: Service {
    let database: any Database
    let client: HTTPClient
    let clock: WallClock
    let logger: Logger
    var retryBase: Duration = .seconds(10)
    var maxAttempts = 15
    var pollInterval: Duration = .milliseconds(500)
    var secrets: [String: String] = ProcessInfo.processInfo.environment

    /// Delivered webhooks are kept this long (for whoever wants to see what was sent), then deleted.
    static let keepDelivered: Int64 = 7 * 86_400_000

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPrune = ContinuousClock.now - .seconds(3600)
            while !Task.isCancelled {
                let sent = (try? await deliverDue()) ?? 0
                if ContinuousClock.now - lastPrune > .seconds(600) {
                    try? await database.run("""
                        DELETE FROM webhook_outbox WHERE delivered_at IS NOT NULL AND delivered_at < \(bind: clock.now.millis - Self.keepDelivered)
                        """)
                    lastPrune = ContinuousClock.now
                }
                if sent == 0 { try? await Task.sleep(for: pollInterval) }
            }
        }
    }

    /// Attempts every delivery that is due; returns how many were attempted.
    @discardableResult
    func deliverDue() async throws -> Int {
        let now = clock.now.millis
        let due = try await database.all("""
            SELECT id, url, secret_env, event, payload, attempts, next_attempt_at FROM webhook_outbox
            WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= \(bind: now)
            ORDER BY next_attempt_at LIMIT 20
            """)
        var attempted = 0
        for row in due {
            let id = try row.decode(column: "id", as: String.self)
            let claimedUntil = now + 60_000
            guard try await database.first("""
                UPDATE webhook_outbox SET next_attempt_at = \(bind: claimedUntil)
                WHERE id = \(bind: id) AND next_attempt_at = \(bind: try row.decode(column: "next_attempt_at", as: Int64.self)) RETURNING id
                """) != nil else { continue }
            attempted += 1
            let attempts = try row.decode(column: "attempts", as: Int64.self) + 1
            let failure = await deliver(url: try row.decode(column: "url", as: String.self),
                                        secretEnv: try row.decodeNil(column: "secret_env") ? nil : try row.decode(column: "secret_env", as: String.self),
                                        event: try row.decode(column: "event", as: String.self), id: id,
                                        payload: try row.decode(column: "payload", as: String.self))
            let finished = clock.now.millis
            if let failure {
                let giveUp = attempts >= maxAttempts
                let wait = min(retryBase * Int(1 << min(attempts - 1, 20)), .seconds(3600))
                let next = finished + Int64(wait / .milliseconds(1))
                try await database.run("""
                    UPDATE webhook_outbox SET attempts = \(bind: attempts), next_attempt_at = \(bind: next), last_error = \(bind: failure),
                        failed_at = \(bind: giveUp ? finished : nil)
                    WHERE id = \(bind: id)
                    """)
                logger.warning(giveUp ? "webhook given up" : "webhook failed; will retry",
                               metadata: ["delivery": "\(id)", "attempts": "\(attempts)", "error": "\(failure)"])
            } else {
                try await database.run("""
                    UPDATE webhook_outbox SET attempts = \(bind: attempts), delivered_at = \(bind: finished), last_error = NULL WHERE id = \(bind: id)
                    """)
            }
        }
        return attempted
    }

    /// Nil when the receiver answered 2xx; otherwise why not.
    private func deliver(url: String, secretEnv: String?, event: String, id: String, payload: String) async -> String? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Switchboard-Event", value: event)
        request.headers.add(name: "Switchboard-Delivery", value: id)
        if let secretEnv {
            guard let secret = secrets[secretEnv], !secret.isEmpty else { return "the environment variable \(secretEnv) is not set" }
            let timestamp = Int64(clock.now.timeIntervalSince1970)
            request.headers.add(name: "Switchboard-Signature", value: StripeSignature.header(payload: Array(payload.utf8), secret: secret, timestamp: timestamp))
        }
        request.body = .bytes(ByteBuffer(string: payload))
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(Int(response.status.code)) ? nil : "HTTP \(response.status.code)"
        } catch {
            return "\(type(of: error))"
        }
    }
}
