import Foundation
import LLM
import SQLKit
import Storage

/// The effect of Stripe's events on users' tiers and subscriptions. Each event id takes effect once (recorded in the
/// same transaction as its effect), and an event older than the last one applied to a subscription changes nothing,
/// so duplicates and deliveries out of order are harmless.
extension Billing {
    public enum WebhookOutcome: String, Sendable {
        case applied
        case duplicate
        /// Older than what the subscription already reflects, or about no user we know.
        case ignored
    }

    /// Verifies the signature of the raw body, then applies the event. A bad signature is 400 and changes nothing.
    public func handleWebhook(payload: [UInt8], signature: String?) async throws -> WebhookOutcome {
        guard let secret = settings.webhookSecret else {
            throw AppError(status: 503, code: "billing_not_configured", title: "Service unavailable", detail: "Billing is not configured on this server.")
        }
        do {
            try StripeSignature.verify(header: signature, payload: payload, secret: secret, now: clock.now, tolerance: settings.tolerance)
        } catch {
            logger.warning("stripe webhook refused", metadata: ["reason": "\(error)"])
            throw AppError.badRequest("The Stripe-Signature does not match this payload (or is too old).", code: "invalid_signature")
        }
        guard let event = JSONValue.parse(Data(payload)), let id = event["id"]?.stringValue, let type = event["type"]?.stringValue,
              let object = event["data"]?["object"] else {
            throw AppError.badRequest("The payload is not a Stripe event.", code: "invalid_event")
        }
        let created = Int64(event["created"]?.intValue ?? 0) * 1000
        let now = clock.now.millis
        let plans = self.plans
        let outcome = try await db.transaction { sql -> WebhookOutcome in
            let fresh = try await sql.raw("""
                INSERT INTO stripe_events (id, type, created, processed_at) VALUES (\(bind: id), \(bind: type), \(bind: created), \(bind: now))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """).first()
            guard fresh != nil else { return .duplicate }
            switch type {
            case "checkout.session.completed":
                guard let user = object["client_reference_id"]?.stringValue ?? object["metadata"]?["user_id"]?.stringValue else { return .ignored }
                return try await Self.apply(sql, plans: plans, user: user, customer: object["customer"]?.stringValue,
                                            subscription: object["subscription"]?.stringValue, tier: object["metadata"]?["tier"]?.stringValue,
                                            status: "active", seats: nil, periodEnd: nil, cancelAtPeriodEnd: nil, eventAt: created, now: now)
            case "customer.subscription.updated", "customer.subscription.deleted":
                let item = object["items"]?["data"]?[0]
                let price = item?["price"]?["id"]?.stringValue
                let tier = plans.order.first { plans.tiers[$0]?.stripePrice == price && price != nil } ?? object["metadata"]?["tier"]?.stringValue
                guard let user = try await Self.user(sql, subscription: object["id"]?.stringValue, customer: object["customer"]?.stringValue,
                                                     metadata: object["metadata"]?["user_id"]?.stringValue) else { return .ignored }
                return try await Self.apply(sql, plans: plans, user: user, customer: object["customer"]?.stringValue,
                                            subscription: object["id"]?.stringValue, tier: tier,
                                            status: type.hasSuffix("deleted") ? "canceled" : (object["status"]?.stringValue ?? "active"),
                                            seats: item?["quantity"]?.intValue, periodEnd: object["current_period_end"]?.intValue.map { Int64($0) * 1000 },
                                            cancelAtPeriodEnd: object["cancel_at_period_end"]?.boolValue, eventAt: created, now: now)
            case "invoice.payment_failed":
                guard let user = try await Self.user(sql, subscription: object["subscription"]?.stringValue, customer: object["customer"]?.stringValue,
                                                     metadata: nil) else { return .ignored }
                return try await Self.apply(sql, plans: plans, user: user, customer: nil, subscription: nil, tier: nil, status: "past_due",
                                            seats: nil, periodEnd: nil, cancelAtPeriodEnd: nil, eventAt: created, now: now)
            default:
                return .ignored // recorded, so a redelivery is a duplicate too
            }
        }
        logger.info("stripe webhook", metadata: ["event": "\(id)", "type": "\(type)", "outcome": "\(outcome.rawValue)"])
        return outcome
    }

    /// The user a subscription event is about: by subscription, then customer, then the metadata we set at checkout.
    private static func user(_ sql: any SQLDatabase, subscription: String?, customer: String?, metadata: String?) async throws -> String? {
        if let subscription, let row = try await sql.raw("SELECT user_id FROM subscriptions WHERE stripe_subscription_id = \(bind: subscription)").first() {
            return try row.decode(column: "user_id", as: String.self)
        }
        if let customer, let row = try await sql.raw("SELECT user_id FROM subscriptions WHERE stripe_customer_id = \(bind: customer)").first() {
            return try row.decode(column: "user_id", as: String.self)
        }
        return metadata
    }

    /// Updates the subscription row and the user's tier, unless a later event already did.
    private static func apply(_ sql: any SQLDatabase, plans: Plans, user: String, customer: String?, subscription: String?, tier: String?,
                              status: String, seats: Int?, periodEnd: Int64?, cancelAtPeriodEnd: Bool?, eventAt: Int64, now: Int64) async throws -> WebhookOutcome {
        guard try await sql.raw("SELECT id FROM users WHERE id = \(bind: user)").first() != nil else { return .ignored }
        let existing = try await sql.raw("SELECT last_event_at, tier FROM subscriptions WHERE user_id = \(bind: user)").first()
        if let existing, try existing.decode(column: "last_event_at", as: Int64.self) > eventAt { return .ignored }
        let knownTier = tier.flatMap { plans.tiers[$0] != nil ? $0 : nil }
            ?? existing.flatMap { try? $0.decodeNil(column: "tier") ? nil : try? $0.decode(column: "tier", as: String.self) }
        // Paying (or trying) keeps the tier; anything else is back to the default tier.
        let entitled = ["active", "trialing"].contains(status)
        let userTier = entitled ? (knownTier ?? plans.defaultTier) : plans.defaultTier
        try await sql.raw("""
            INSERT INTO subscriptions (user_id, stripe_customer_id, stripe_subscription_id, tier, status, seats, current_period_end,
                cancel_at_period_end, last_event_at, updated_at)
            VALUES (\(bind: user), \(bind: customer), \(bind: subscription), \(bind: knownTier), \(bind: status), \(bind: Int64(seats ?? 1)),
                \(bind: periodEnd), \(bind: Int64(cancelAtPeriodEnd == true ? 1 : 0)), \(bind: eventAt), \(bind: now))
            ON CONFLICT (user_id) DO UPDATE SET
                stripe_customer_id = COALESCE(excluded.stripe_customer_id, subscriptions.stripe_customer_id),
                stripe_subscription_id = COALESCE(excluded.stripe_subscription_id, subscriptions.stripe_subscription_id),
                tier = COALESCE(excluded.tier, subscriptions.tier),
                status = excluded.status,
                seats = CASE WHEN \(bind: seats == nil ? 0 : 1) = 1 THEN excluded.seats ELSE subscriptions.seats END,
                current_period_end = COALESCE(excluded.current_period_end, subscriptions.current_period_end),
                cancel_at_period_end = CASE WHEN \(bind: cancelAtPeriodEnd == nil ? 0 : 1) = 1 THEN excluded.cancel_at_period_end
                                            ELSE subscriptions.cancel_at_period_end END,
                last_event_at = excluded.last_event_at,
                updated_at = excluded.updated_at
            """).run()
        let userSeats = try await sql.raw("SELECT seats FROM subscriptions WHERE user_id = \(bind: user)").first()?.decode(column: "seats", as: Int64.self) ?? 1
        try await sql.raw("""
            UPDATE users SET tier = \(bind: userTier), seats = \(bind: entitled ? userSeats : 1), updated_at = \(bind: now) WHERE id = \(bind: user)
            """).run()
        return .applied
    }
}
