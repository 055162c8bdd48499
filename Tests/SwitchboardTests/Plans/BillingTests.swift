import App
import Core
import Foundation
import HTTPTypes
import LLM
import NIOCore
import Storage
import Testing

@Suite("Stripe billing")
struct BillingTests {
    /// Delivers a webhook event as Stripe does: the raw JSON and its signature header.
    static func deliver(_ app: TestApp, _ event: (body: String, signature: String)) async throws -> Reply {
        try await app.request(.post, "/api/v1/billing/webhook", headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: event.signature],
                              body: ByteBuffer(string: event.body))
    }

    /// A server selling the standard tiers through a fake Stripe; new users, and users whose subscription ends, on free.
    static func withStripe(_ body: @Sendable (TestApp, FakeStripe) async throws -> Void) async throws {
        let stripe = try await FakeStripe.start()
        try await TestApp.run(customize: { settings in
            stripe.configure(&settings)
            settings.defaultTier("free")
        }) { app in try await body(app, stripe) }
        await stripe.stop()
    }

    static func tier(_ app: TestApp, _ user: Tokens) async throws -> String? {
        try await app.request(.get, "/api/v1/account/plan", token: user.access)["tier"] as? String
    }

    @Test("Checkout creates a Stripe session with an idempotency key; unknown tiers and a missing Stripe key are refused")
    func checkout() async throws {
        let stripe = try await FakeStripe.start()
        try await TestApp.run(customize: { stripe.configure(&$0) }) { app in
            let user = try await app.signup()
            let session = try await app.request(.post, "/api/v1/billing/checkout", json: ["tier": "pro"], token: user.access,
                                                headers: [HTTPField.Name("Idempotency-Key")!: "attempt-1"])
            #expect(session.status == 201, "\(session.text)")
            #expect(session["url"] as? String == "https://checkout.stripe.com/c/pay/cs_test_123")
            let sent = try #require(stripe.requests.first)
            #expect(sent.form["line_items[0][price]"] == "price_pro")
            #expect(sent.form["client_reference_id"] == user.userID)
            #expect(sent.form["customer_email"] == user.email)
            #expect(sent.idempotencyKey == "checkout-\(user.userID)-attempt-1")
            #expect(try await app.request(.post, "/api/v1/billing/checkout", json: ["tier": "free"], token: user.access).fieldErrors["tier"] == "not_for_sale")
            #expect(try await app.request(.post, "/api/v1/billing/checkout", json: ["tier": "gold"], token: user.access).fieldErrors["tier"] == "not_for_sale")
            let none = try await app.request(.get, "/api/v1/billing/subscription", token: user.access)
            #expect(none["status"] as? String == "none")
        }
        try await TestApp.run { app in
            let user = try await app.signup()
            #expect(try await app.request(.post, "/api/v1/billing/checkout", json: ["tier": "pro"], token: user.access).code == "billing_not_configured")
        }
        await stripe.stop()
    }

    @Test("Webhooks move users between tiers: once per event, in order, and nothing for a bad, tampered or stale signature")
    func webhooks() async throws {
        try await Self.withStripe { app, stripe in
            let user = try await app.signup()
            #expect(try await Self.tier(app, user) == "free")
            let now = app.clock.wallClock.now
            let completed = FakeStripe.event(id: "evt_checkout", type: "checkout.session.completed", created: now, object: [
                "id": "cs_test_123", "object": "checkout.session", "client_reference_id": .string(user.userID), "customer": "cus_1",
                "mode": "subscription", "payment_status": "paid", "subscription": "sub_1", "metadata": ["user_id": .string(user.userID), "tier": "pro"],
            ])
            let applied = try await Self.deliver(app, completed)
            #expect(applied.status == 200, "\(applied.text)")
            #expect(applied["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "pro")
            #expect(try await Self.deliver(app, completed)["outcome"] as? String == "duplicate")

            // Tampered (the body changed after signing), stale, unsigned, signed with another secret: 400, no effect.
            var tampered = FakeStripe.event(type: "customer.subscription.updated", created: now.addingTimeInterval(1), object: [
                "id": "sub_1", "customer": "cus_1", "status": "active", "items": ["data": [["price": ["id": "price_power"], "quantity": 1]]],
            ])
            tampered.body = tampered.body.replacingOccurrences(of: "price_power", with: "price_team")
            let stale = FakeStripe.event(type: "customer.subscription.deleted", created: now.addingTimeInterval(-600),
                                         object: ["id": "sub_1", "customer": "cus_1", "status": "canceled"])
            let foreign = FakeStripe.event(type: "customer.subscription.deleted", created: now, object: ["id": "sub_1", "status": "canceled"],
                                           secret: "whsec_someone_else")
            for bad in [tampered, stale, foreign, (body: stale.body, signature: "")] {
                let refused = try await Self.deliver(app, bad)
                #expect(refused.status == 400)
                #expect(refused.code == "invalid_signature")
            }
            #expect(try await Self.tier(app, user) == "pro", "no refused event changed anything")

            // The team plan with 3 seats; then an older update arrives late and changes nothing.
            let team = FakeStripe.event(type: "customer.subscription.updated", created: now.addingTimeInterval(20), object: [
                "id": "sub_1", "customer": "cus_1", "status": "active", "current_period_end": .int(Int64(now.timeIntervalSince1970) + 30 * 86_400),
                "cancel_at_period_end": false, "items": ["data": [["price": ["id": "price_team"], "quantity": 3]]],
            ], signedAt: now)
            #expect(try await Self.deliver(app, team)["outcome"] as? String == "applied")
            let plan = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            #expect(plan["tier"] as? String == "team")
            #expect(plan["seats"] as? Int == 3)
            let late = FakeStripe.event(type: "customer.subscription.updated", created: now.addingTimeInterval(10), object: [
                "id": "sub_1", "customer": "cus_1", "status": "active", "items": ["data": [["price": ["id": "price_power"], "quantity": 1]]],
            ], signedAt: now)
            #expect(try await Self.deliver(app, late)["outcome"] as? String == "ignored")
            #expect(try await Self.tier(app, user) == "team")
            let subscription = try await app.request(.get, "/api/v1/billing/subscription", token: user.access)
            #expect(subscription["status"] as? String == "active")
            #expect(subscription["seats"] as? Int == 3)

            // A failed payment downgrades at once: the next request no longer has the paid features.
            let failed = FakeStripe.event(type: "invoice.payment_failed", created: now.addingTimeInterval(30),
                                          object: ["id": "in_1", "customer": "cus_1", "subscription": "sub_1"], signedAt: now)
            #expect(try await Self.deliver(app, failed)["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "free")
            #expect(try await app.request(.post, "/api/v1/integrations", json: ["kind": "api_key", "credentials": "sk-1"], token: user.access).code == "feature_not_in_plan")
            let recovered = FakeStripe.event(type: "customer.subscription.updated", created: now.addingTimeInterval(40), object: [
                "id": "sub_1", "customer": "cus_1", "status": "active", "items": ["data": [["price": ["id": "price_pro"], "quantity": 1]]],
            ], signedAt: now)
            _ = try await Self.deliver(app, recovered)
            #expect(try await Self.tier(app, user) == "pro")

            // Cancel at period end through Stripe; deletion ends the plan.
            let cancelled = try await app.request(.delete, "/api/v1/billing/subscription", token: user.access)
            #expect(cancelled.status == 200, "\(cancelled.text)")
            #expect(cancelled["cancel_at_period_end"] as? Bool == true)
            #expect(stripe.requests.last?.path == "/v1/subscriptions/sub_1")
            #expect(stripe.requests.last?.form["cancel_at_period_end"] == "true")
            let deleted = FakeStripe.event(type: "customer.subscription.deleted", created: now.addingTimeInterval(50),
                                           object: ["id": "sub_1", "customer": "cus_1", "status": "canceled"], signedAt: now)
            #expect(try await Self.deliver(app, deleted)["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "free")
            let events = try await app.server.database.all("SELECT id FROM stripe_events")
            #expect(events.count == 6, "every verified event is recorded once (the duplicate was not)")
        }
    }

    /// A checkout.session.completed event for `user` (a paid subscription checkout unless told otherwise).
    static func checkoutEvent(_ user: Tokens, at: Date, subscription: String, customer: String, tier: String = "pro",
                              mode: String = "subscription", paymentStatus: String = "paid") -> (body: String, signature: String) {
        FakeStripe.event(type: "checkout.session.completed", created: at, object: [
            "id": .string("cs_\(subscription)"), "object": "checkout.session", "client_reference_id": .string(user.userID),
            "customer": .string(customer), "mode": .string(mode), "payment_status": .string(paymentStatus), "subscription": .string(subscription),
            "metadata": ["user_id": .string(user.userID), "tier": .string(tier)],
        ])
    }

    @Test("Webhook rules: only paid subscription checkouts grant a tier, the price decides, other subscriptions and invoices change nothing, a cancellation wins")
    func webhookRules() async throws {
        try await Self.withStripe { app, _ in
            let user = try await app.signup()
            let now = app.clock.wallClock.now
            func subscription(_ type: String, _ id: String, at offset: TimeInterval, price: String? = nil, status: String = "active",
                              customer: String = "cus_1") -> (body: String, signature: String) {
                var object: [String: JSONValue] = ["id": .string(id), "customer": .string(customer), "status": .string(status)]
                if let price { object["items"] = ["data": [["price": ["id": .string(price)], "quantity": 1]]] }
                return FakeStripe.event(type: type, created: now.addingTimeInterval(offset), object: .object(object), signedAt: now)
            }

            // One-off payments, unpaid checkouts and tiers this server does not sell grant nothing.
            for ignored in [Self.checkoutEvent(user, at: now, subscription: "sub_A", customer: "cus_1", mode: "payment"),
                            Self.checkoutEvent(user, at: now, subscription: "sub_A", customer: "cus_1", paymentStatus: "unpaid"),
                            Self.checkoutEvent(user, at: now, subscription: "sub_A", customer: "cus_1", tier: "gold")] {
                #expect(try await Self.deliver(app, ignored)["outcome"] as? String == "ignored")
            }
            #expect(try await Self.tier(app, user) == "free")
            #expect(try await Self.deliver(app, Self.checkoutEvent(user, at: now, subscription: "sub_A", customer: "cus_1"))["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "pro")

            // A failed invoice of another subscription (or of none) says nothing about this one.
            let otherInvoice = FakeStripe.event(type: "invoice.payment_failed", created: now.addingTimeInterval(1),
                                                object: ["id": "in_9", "customer": "cus_1", "subscription": "sub_other"], signedAt: now)
            let oneOff = FakeStripe.event(type: "invoice.payment_failed", created: now.addingTimeInterval(1),
                                          object: ["id": "in_8", "customer": "cus_1"], signedAt: now)
            #expect(try await Self.deliver(app, otherInvoice)["outcome"] as? String == "ignored")
            #expect(try await Self.deliver(app, oneOff)["outcome"] as? String == "ignored")
            #expect(try await Self.tier(app, user) == "pro")

            // The price decides: one no tier here has is the default tier (and logged), a known one is that tier.
            #expect(try await Self.deliver(app, subscription("customer.subscription.updated", "sub_A", at: 2, price: "price_unknown"))["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "free")
            #expect(try await Self.deliver(app, subscription("customer.subscription.updated", "sub_A", at: 3, price: "price_power"))["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "power")

            // An invoice in the shape of Stripe's newer API versions (the subscription under parent) is understood.
            let basil = FakeStripe.event(type: "invoice.payment_failed", created: now.addingTimeInterval(4), object: [
                "id": "in_2", "customer": "cus_1", "parent": ["type": "subscription_details", "subscription_details": ["subscription": "sub_A"]],
            ], signedAt: now)
            #expect(try await Self.deliver(app, basil)["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "free")
            #expect(try await Self.deliver(app, subscription("customer.subscription.updated", "sub_A", at: 5, price: "price_power"))["outcome"] as? String == "applied")
            #expect(try await Self.tier(app, user) == "power")

            // An event about an older subscription of the same customer does not touch the live one.
            #expect(try await Self.deliver(app, subscription("customer.subscription.deleted", "sub_old", at: 6, status: "canceled"))["outcome"] as? String == "ignored")
            #expect(try await Self.deliver(app, subscription("customer.subscription.updated", "sub_old", at: 6, price: "price_team"))["outcome"] as? String == "ignored")
            #expect(try await Self.tier(app, user) == "power")

            // Deleted and updated in the same second: the cancellation stays, whichever arrives second.
            #expect(try await Self.deliver(app, subscription("customer.subscription.deleted", "sub_A", at: 7, status: "canceled"))["outcome"] as? String == "applied")
            #expect(try await Self.deliver(app, subscription("customer.subscription.updated", "sub_A", at: 7, price: "price_power"))["outcome"] as? String == "ignored")
            #expect(try await Self.tier(app, user) == "free")
            let state = try await app.request(.get, "/api/v1/billing/subscription", token: user.access)
            #expect(state["status"] as? String == "canceled")

            // A new subscription after the old one ended is taken; its created event, `incomplete` until paid and dated
            // the same second as the paid checkout, does not undo the payment when it arrives second.
            #expect(try await Self.deliver(app, Self.checkoutEvent(user, at: now.addingTimeInterval(8), subscription: "sub_B", customer: "cus_1"))["outcome"] as? String == "applied")
            #expect(try await Self.deliver(app, subscription("customer.subscription.created", "sub_B", at: 8, price: "price_pro", status: "incomplete"))["outcome"] as? String == "ignored")
            #expect(try await Self.tier(app, user) == "pro")

            // Concurrent deliveries of an update and a deletion in the same second, for many users: all end cancelled.
            var users: [Tokens] = []
            for index in 0..<8 {
                let other = try await app.signup()
                _ = try await Self.deliver(app, Self.checkoutEvent(other, at: now, subscription: "sub_c\(index)", customer: "cus_c\(index)"))
                users.append(other)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in users.indices {
                    let events = [subscription("customer.subscription.updated", "sub_c\(index)", at: 9, price: "price_team", customer: "cus_c\(index)"),
                                  subscription("customer.subscription.deleted", "sub_c\(index)", at: 9, status: "canceled", customer: "cus_c\(index)")]
                    for event in events {
                        group.addTask { let reply = try await Self.deliver(app, event); #expect(reply.status == 200) }
                    }
                }
                try await group.waitForAll()
            }
            for other in users {
                #expect(try await Self.tier(app, other) == "free")
                #expect(try await app.request(.get, "/api/v1/billing/subscription", token: other.access)["status"] as? String == "canceled")
            }
        }
    }

    @Test("The signature check: every v1 is compared, the window is 5 minutes either way")
    func signature() throws {
        let payload = Array(#"{"id":"evt"}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let good = StripeSignature.header(payload: payload, secret: "s", timestamp: 1_800_000_000)
        try StripeSignature.verify(header: good, payload: payload, secret: "s", now: now)
        // Several v1 (a secret being rolled): one good one is enough.
        let rolled = "t=1800000000,v1=" + String(repeating: "0", count: 64) + "," + good.split(separator: ",")[1]
        try StripeSignature.verify(header: rolled, payload: payload, secret: "s", now: now)
        #expect(throws: StripeSignature.Failure.stale) { try StripeSignature.verify(header: good, payload: payload, secret: "s", now: now.addingTimeInterval(301)) }
        #expect(throws: StripeSignature.Failure.stale) { try StripeSignature.verify(header: good, payload: payload, secret: "s", now: now.addingTimeInterval(-301)) }
        #expect(throws: StripeSignature.Failure.mismatch) { try StripeSignature.verify(header: good, payload: payload + [0x20], secret: "s", now: now) }
        #expect(throws: StripeSignature.Failure.malformed) { try StripeSignature.verify(header: "t=1800000000", payload: payload, secret: "s", now: now) }
        #expect(throws: StripeSignature.Failure.missing) { try StripeSignature.verify(header: nil, payload: payload, secret: "s", now: now) }
    }
}
