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
        let stripe = try await FakeStripe.start()
        try await TestApp.run(customize: { settings in
            stripe.configure(&settings)
            settings.plans = Plans(tiers: settings.plans.order.compactMap { settings.plans.tiers[$0] }, defaultTier: "free")
            settings.accounts.defaultTier = "free"
        }) { app in
            let user = try await app.signup()
            #expect(try await Self.tier(app, user) == "free")
            let now = app.clock.wallClock.now
            let completed = FakeStripe.event(id: "evt_checkout", type: "checkout.session.completed", created: now, object: [
                "id": "cs_test_123", "object": "checkout.session", "client_reference_id": .string(user.userID), "customer": "cus_1",
                "subscription": "sub_1", "metadata": ["user_id": .string(user.userID), "tier": "pro"],
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
        await stripe.stop()
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
