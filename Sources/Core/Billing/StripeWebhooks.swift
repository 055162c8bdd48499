import Foundation
import LLM
import Logging
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
            throw AppError.billingOff
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
        let created = Self.epochMillis(event["created"]) ?? 0
        let now = clock.now.millis
        let plans = self.plans, logger = self.logger
        let outcome = try await db.transaction { sql -> WebhookOutcome in
            let fresh = try await sql.raw("""
                INSERT INTO stripe_events (id, type, created, processed_at) VALUES (\(bind: id), \(bind: type), \(bind: created), \(bind: now))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """).first()
            guard fresh != nil else { return .duplicate }
            switch type {
            case "checkout.session.completed":
                // Only a subscription checkout of ours grants a tier, and only once paid (or free, as with a trial): other
                // checkouts in the same Stripe account (payment links, one-off payments) change nothing here, and a
                // delayed payment is granted by the subscription's own `active` event instead.
                guard object["mode"]?.stringValue == "subscription", let subscription = object["subscription"]?.stringValue,
                      ["paid", "no_payment_required"].contains(object["payment_status"]?.stringValue ?? ""),
                      let tier = object["metadata"]?["tier"]?.stringValue, plans.tiers[tier] != nil,
                      let user = object["client_reference_id"]?.stringValue ?? object["metadata"]?["user_id"]?.stringValue
                else { return .ignored }
                return try await Self.apply(sql, plans: plans, user: user, change: .init(
                    customer: object["customer"]?.stringValue, subscription: subscription, tier: .set(tier), status: "active"),
                    eventAt: created, now: now)
            case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
                let subscription = object["id"]?.stringValue
                guard let user = try await Self.user(sql, subscription: subscription, customer: object["customer"]?.stringValue,
                                                     metadata: object["metadata"]?["user_id"]?.stringValue) else { return .ignored }
                let item = object["items"]?["data"]?[0]
                // Since Stripe's API version 2025-03-31 the period end is on each item rather than the subscription.
                let periodEnd = Self.epochMillis(object["current_period_end"] ?? item?["current_period_end"])
                return try await Self.apply(sql, plans: plans, user: user, change: .init(
                    customer: object["customer"]?.stringValue, subscription: subscription, tier: Self.tier(of: object, plans: plans, logger: logger),
                    status: type.hasSuffix("deleted") ? "canceled" : (object["status"]?.stringValue ?? "active"), seats: item?["quantity"]?.intValue.map(Tier.seats.clamp),
                    periodEnd: periodEnd, cancelAtPeriodEnd: object["cancel_at_period_end"]?.boolValue),
                    eventAt: created, now: now)
            case "invoice.payment_failed":
                // Only an invoice of the subscription on file says anything about it (one-off invoices do not).
                let subscription = object["subscription"]?.stringValue ?? object["parent"]?["subscription_details"]?["subscription"]?.stringValue
                guard let subscription, let user = try await Self.user(sql, subscription: subscription, customer: nil, metadata: nil) else { return .ignored }
                return try await Self.apply(sql, plans: plans, user: user, change: .init(subscription: subscription, status: "past_due"),
                                            eventAt: created, now: now)
            default:
                return .ignored // recorded, so a redelivery is a duplicate too
            }
        }
        logger.info("stripe webhook", metadata: ["event": "\(id)", "type": "\(type)", "outcome": "\(outcome.rawValue)"])
        return outcome
    }

    /// Epoch seconds as Stripe sends them, in milliseconds; nil unless within years 1970 to 9999.
    static func epochMillis(_ value: JSONValue?) -> Int64? {
        guard let seconds = value?.intValue, (0...253_402_300_799).contains(seconds) else { return nil }
        return Int64(seconds) * 1000
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

    /// What an event says about a subscription; nil fields say nothing (the stored value stays).
    struct Change {
        enum Tier {
            case unchanged
            /// A tier name, or nil for a price that is no tier here.
            case set(String?)
        }

        var customer: String?
        var subscription: String?
        var tier = Tier.unchanged
        var status: String
        var seats: Int?
        var periodEnd: Int64?
        var cancelAtPeriodEnd: Bool?
    }

    /// The tier a subscription event is for: its price decides. A price that maps to no tier is no paid tier (it
    /// could be a cheaper plan added in Stripe but not here): that is logged for the operator to configure.
    private static func tier(of subscription: JSONValue, plans: Plans, logger: Logger) -> Change.Tier {
        guard let price = subscription["items"]?["data"]?[0]?["price"]?["id"]?.stringValue else {
            let tier = subscription["metadata"]?["tier"]?.stringValue
            return tier.map { plans.tiers[$0] != nil ? .set($0) : .unchanged } ?? .unchanged
        }
        if let tier = plans.order.first(where: { plans.tiers[$0]?.stripePrice == price }) { return .set(tier) }
        logger.error("a Stripe subscription is for a price no tier has; the user gets the default tier",
                     metadata: ["price": "\(price)", "subscription": "\(subscription["id"]?.stringValue ?? "-")"])
        return .set(nil)
    }

    /// Updates the subscription row and the user's tier, unless a later event already did. The check and the
    /// write are one statement (the row lock orders concurrent events, also across processes), and the user's tier
    /// is written under that lock. An event about another subscription than a live one on file changes nothing.
    private static func apply(_ sql: any SQLDatabase, plans: Plans, user: String, change: Change, eventAt: Int64, now: Int64) async throws -> WebhookOutcome {
        guard try await sql.raw("SELECT id FROM users WHERE id = \(bind: user)").first() != nil else { return .ignored }
        let setsTier: Bool, tier: String?
        switch change.tier {
        case .unchanged: (setsTier, tier) = (false, nil)
        case .set(let name): (setsTier, tier) = (true, name)
        }
        guard let row = try await sql.raw("""
            INSERT INTO subscriptions (user_id, stripe_customer_id, stripe_subscription_id, tier, status, seats, current_period_end,
                cancel_at_period_end, last_event_at, updated_at)
            VALUES (\(bind: user), \(bind: change.customer), \(bind: change.subscription), \(bind: tier), \(bind: change.status),
                \(bind: Int64(change.seats ?? 1)), \(bind: change.periodEnd), \(bind: Int64(change.cancelAtPeriodEnd == true ? 1 : 0)),
                \(bind: eventAt), \(bind: now))
            ON CONFLICT (user_id) DO UPDATE SET
                stripe_customer_id = COALESCE(excluded.stripe_customer_id, subscriptions.stripe_customer_id),
                stripe_subscription_id = COALESCE(excluded.stripe_subscription_id, subscriptions.stripe_subscription_id),
                tier = CASE WHEN \(bind: Int64(setsTier ? 1 : 0)) = 1 THEN excluded.tier ELSE subscriptions.tier END,
                status = excluded.status,
                seats = CASE WHEN \(bind: Int64(change.seats == nil ? 0 : 1)) = 1 THEN excluded.seats ELSE subscriptions.seats END,
                current_period_end = COALESCE(excluded.current_period_end, subscriptions.current_period_end),
                cancel_at_period_end = CASE WHEN \(bind: Int64(change.cancelAtPeriodEnd == nil ? 0 : 1)) = 1 THEN excluded.cancel_at_period_end
                                            ELSE subscriptions.cancel_at_period_end END,
                last_event_at = excluded.last_event_at,
                updated_at = excluded.updated_at
            -- Later events win. Stripe dates events to the second, so of two in the same second a cancellation stays,
            -- and a subscription's first `incomplete` (its created event, racing the paid checkout) does not undo a
            -- payment.
            WHERE (subscriptions.last_event_at < excluded.last_event_at
                   OR (subscriptions.last_event_at = excluded.last_event_at AND subscriptions.status <> 'canceled'
                       AND excluded.status <> 'incomplete'))
              AND (excluded.stripe_subscription_id IS NULL OR subscriptions.stripe_subscription_id IS NULL
                   OR subscriptions.stripe_subscription_id = excluded.stripe_subscription_id
                   OR subscriptions.status NOT IN ('active', 'trialing', 'past_due'))
            RETURNING tier, status, seats
            """).first() else { return .ignored }
        // Paying (or trialling) keeps the tier; anything else is back to the default tier.
        let stored = try row.decodeNil(column: "tier") ? nil : try row.decode(column: "tier", as: String.self)
        let entitled = ["active", "trialing"].contains(try row.decode(column: "status", as: String.self))
        let userTier = entitled ? (stored.flatMap { plans.tiers[$0] != nil ? $0 : nil } ?? plans.defaultTier) : plans.defaultTier
        let seats = entitled ? try row.decode(column: "seats", as: Int64.self) : 1
        try await sql.raw("UPDATE users SET tier = \(bind: userTier), seats = \(bind: seats), updated_at = \(bind: now) WHERE id = \(bind: user)").run()
        return .applied
    }
}
