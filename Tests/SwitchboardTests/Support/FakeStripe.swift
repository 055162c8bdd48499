import App
import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore
import Synchronization

/// Stripe's API as billing uses it, on 127.0.0.1: Checkout Sessions and subscription updates, recorded with their
/// form fields and idempotency keys. Webhook events are built and signed for real by `event`.
final class FakeStripe: Sendable {
    static let secretKey = "sk_test_fake_stripe_key"
    static let webhookSecret = "whsec_test_fake_secret"
    private let recorded = Mutex<[(path: String, form: [String: String], idempotencyKey: String?)]>([])
    private let slot = FakeServerSlot()

    var baseURL: String { slot.baseURL }
    var requests: [(path: String, form: [String: String], idempotencyKey: String?)] { recorded.withLock { $0 } }

    static func start() async throws -> FakeStripe {
        let fake = FakeStripe()
        let router = Router()
        router.post("/v1/**") { request, _ in try await fake.handle(request) }
        let server = try await FakeServer.start(router)
        fake.slot.hold(server)
        return fake
    }

    func stop() async {
        await slot.stop()
    }

    func configure(_ settings: inout Settings) {
        settings.billing.secretKey = Self.secretKey
        settings.billing.webhookSecret = Self.webhookSecret
        settings.billing.apiURL = baseURL
        settings.plans = Plans(tiers: settings.plans.order.compactMap { name in
            settings.plans.tiers[name].map { tier in
                var tier = tier
                if name != "free" { tier.stripePrice = "price_\(name)" }
                return tier
            }
        }, defaultTier: settings.plans.defaultTier)
    }

    private func handle(_ request: Request) async throws -> Response {
        var request = request
        guard request.headers[.authorization] == "Bearer \(Self.secretKey)" else {
            return Self.json(401, ["error": ["type": "invalid_request_error", "message": "Invalid API Key provided."]])
        }
        let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
        let form = Dictionary(body.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }, uniquingKeysWith: { $1 })
        recorded.withLock { $0.append((request.uri.path, form, request.headers[HTTPField.Name("Idempotency-Key")!])) }
        if request.uri.path == "/v1/checkout/sessions" {
            guard form["mode"] == "subscription", form["line_items[0][price]"] != nil else {
                return Self.json(400, ["error": ["type": "invalid_request_error", "message": "Missing required param: line_items."]])
            }
            return Self.json(200, ["id": "cs_test_123", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_123"])
        }
        if request.uri.path.hasPrefix("/v1/subscriptions/") {
            return Self.json(200, ["id": .string(String(request.uri.path.dropFirst("/v1/subscriptions/".count))), "object": "subscription",
                                   "cancel_at_period_end": .bool(form["cancel_at_period_end"] == "true")])
        }
        return Self.json(404, ["error": ["type": "invalid_request_error", "message": "Unrecognized request URL."]])
    }

    static func json(_ status: Int, _ body: JSONValue) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body.jsonString)))
    }

    /// A webhook event as Stripe sends it: the JSON, and its signature header at `timestamp`.
    static func event(id: String = "evt_\(UUID().uuidString.prefix(12))", type: String, created: Date, object: JSONValue,
                      signedAt timestamp: Date? = nil, secret: String = webhookSecret) -> (body: String, signature: String) {
        let body = JSONValue.object(["id": .string(id), "object": "event", "type": .string(type), "api_version": "2024-06-20",
                                     "created": .int(Int64(created.timeIntervalSince1970)), "livemode": false,
                                     "data": ["object": object]]).jsonString
        let signature = StripeSignature.header(payload: Array(body.utf8), secret: secret,
                                               timestamp: Int64((timestamp ?? created).timeIntervalSince1970))
        return (body, signature)
    }
}
