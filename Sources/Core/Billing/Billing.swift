import AsyncHTTPClient
import Foundation
import LLM
import Logging
import NIOCore
import SQLKit
import Storage

public struct BillingSettings: Sendable {
    public var secretKey: String?
    public var webhookSecret: String?
    public var apiURL = "https://api.stripe.com"
    public var successURL = "http://localhost:8080/billing/success?session_id={CHECKOUT_SESSION_ID}"
    public var cancelURL = "http://localhost:8080/billing/cancelled"
    /// How far a webhook's timestamp may be from now.
    public var tolerance: TimeInterval = 300

    public init() {}
}

/// A user's Stripe subscription, as Stripe last told us.
public struct Subscription: Sendable, Equatable {
    public let tier: String?
    public let status: String
    public let seats: Int
    public let currentPeriodEnd: Date?
    public let cancelAtPeriodEnd: Bool
}

/// Plans sold through Stripe: Checkout sessions to subscribe, cancellation at period end, and webhooks that move the
/// user between tiers. The tier lives in `users.tier`, read with every request, so a change applies at once.
public struct Billing: Sendable {
    let db: any Database
    let plans: Plans
    let settings: BillingSettings
    let client: HTTPClient
    let clock: WallClock
    let logger: Logger

    public init(db: any Database, plans: Plans, settings: BillingSettings, client: HTTPClient = .shared, clock: WallClock, logger: Logger) {
        self.db = db
        self.plans = plans
        self.settings = settings
        self.client = client
        self.clock = clock
        self.logger = logger
    }

    private func secretKey() throws -> String {
        guard let key = settings.secretKey else {
            throw AppError.billingOff
        }
        return key
    }

    // MARK: Checkout and subscription

    /// A Checkout Session for `tier`; its URL. The idempotency key makes a retried request create no second session.
    public func checkout(user: User, tier name: String, idempotencyKey: String) async throws -> (id: String, url: String) {
        _ = try secretKey()
        guard let tier = plans.tiers[name], let price = tier.stripePrice else {
            throw AppError.validation([FieldError(field: "tier", code: "not_for_sale",
                                                  message: "must be one of \(plans.order.filter { plans.tiers[$0]?.stripePrice != nil }.joined(separator: ", "))")])
        }
        if let current = try await subscription(userID: user.id), ["active", "trialing", "past_due"].contains(current.status) {
            throw AppError.conflict("already_subscribed", "There is a subscription already; cancel it or change it in the billing portal.")
        }
        let customer = try await db.first("SELECT stripe_customer_id FROM subscriptions WHERE user_id = \(bind: user.id.lowercased)")
            .flatMap { try $0.decodeNil(column: "stripe_customer_id") ? nil : try $0.decode(column: "stripe_customer_id", as: String.self) }
        var form: [(String, String)] = [
            ("mode", "subscription"), ("line_items[0][price]", price), ("line_items[0][quantity]", "1"),
            ("success_url", settings.successURL), ("cancel_url", settings.cancelURL), ("client_reference_id", user.id.lowercased),
            ("metadata[user_id]", user.id.lowercased), ("metadata[tier]", name),
            ("subscription_data[metadata][user_id]", user.id.lowercased), ("subscription_data[metadata][tier]", name),
        ]
        if let customer { form.append(("customer", customer)) } else if let email = user.email { form.append(("customer_email", email)) }
        let session = try await stripe("/v1/checkout/sessions", form: form, idempotencyKey: idempotencyKey)
        guard let id = session["id"]?.stringValue, let url = session["url"]?.stringValue else {
            throw AppError(status: 502, code: "billing_provider_error", title: "Bad gateway", detail: "Stripe returned no checkout URL.")
        }
        return (id, url)
    }

    public func subscription(userID: UUID) async throws -> Subscription? {
        try await db.first("""
            SELECT tier, status, seats, current_period_end, cancel_at_period_end FROM subscriptions WHERE user_id = \(bind: userID.lowercased)
            """).map { row in
            Subscription(tier: try row.decodeNil(column: "tier") ? nil : try row.decode(column: "tier", as: String.self),
                         status: try row.decode(column: "status", as: String.self), seats: Int(try row.decode(column: "seats", as: Int64.self)),
                         currentPeriodEnd: try row.decodeNil(column: "current_period_end") ? nil
                             : Date(millis: try row.decode(column: "current_period_end", as: Int64.self)),
                         cancelAtPeriodEnd: try row.decode(column: "cancel_at_period_end", as: Int64.self) != 0)
        }
    }

    /// Cancels at the end of the paid period (the user keeps the tier until then).
    public func cancel(userID: UUID) async throws -> Subscription {
        guard let row = try await db.first("""
            SELECT stripe_subscription_id FROM subscriptions WHERE user_id = \(bind: userID.lowercased)
              AND stripe_subscription_id IS NOT NULL AND status IN ('active', 'trialing', 'past_due')
            """) else { throw AppError.notFound("subscription") }
        let id = try row.decode(column: "stripe_subscription_id", as: String.self)
        // Setting the flag is idempotent itself; a key per call keeps Stripe from replaying an earlier answer after
        // the subscription was resumed in the billing portal and is being cancelled again.
        _ = try await stripe("/v1/subscriptions/\(id.formEncoded)", form: [("cancel_at_period_end", "true")],
                             idempotencyKey: "cancel-\(id)-\(UUID.random().lowercased)")
        try await db.run("""
            UPDATE subscriptions SET cancel_at_period_end = 1, updated_at = \(bind: clock.now.millis) WHERE user_id = \(bind: userID.lowercased)
            """)
        guard let subscription = try await subscription(userID: userID) else { throw AppError.notFound("subscription") }
        return subscription
    }

    /// A POST to Stripe's form-encoded API.
    private func stripe(_ path: String, form: [(String, String)], idempotencyKey: String) async throws -> JSONValue {
        var request = HTTPClientRequest(url: settings.apiURL + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(try secretKey())")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.body = .bytes(ByteBuffer(string: form.map { "\($0.formEncoded)=\($1.formEncoded)" }.joined(separator: "&")))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw AppError(status: 503, code: "billing_provider_unavailable", title: "Service unavailable", detail: "Stripe could not be reached.",
                           retryAfter: 10)
        }
        let body = JSONValue.parse(String(buffer: try await response.body.collect(upTo: 1 << 20))) ?? .null
        guard (200..<300).contains(Int(response.status.code)) else {
            logger.warning("stripe refused a request", metadata: ["status": "\(response.status.code)", "type": "\(body["error"]?["type"]?.stringValue ?? "-")"])
            throw AppError(status: 502, code: "billing_provider_error", title: "Bad gateway",
                           detail: "Stripe refused the request: \(body["error"]?["message"]?.stringValue ?? "HTTP \(response.status.code)")")
        }
        return body
    }
}

extension String {
    var formEncoded: String {
        addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? self
    }
}
