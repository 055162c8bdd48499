import API
import Core
import Foundation

extension APIHandler {
    func createCheckout(_ input: Operations.CreateCheckout.Input) async throws -> Operations.CreateCheckout.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        // The client's key makes its retries safe; without one every request is its own. Stripe takes keys of up
        // to 255 characters, ours included.
        if let key = input.headers.idempotencyKey, !(1...200).contains(key.utf8.count) || !key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            throw AppError.validation([FieldError(field: "Idempotency-Key", code: "invalid_value",
                                                  message: "must be 1 to 200 printable ASCII characters")])
        }
        let key = input.headers.idempotencyKey.map { "checkout-\(identity.user.id.lowercased)-\($0)" } ?? UUID.random().uuidString
        let session = try await billing.checkout(user: identity.user, tier: body.tier, idempotencyKey: key)
        return .created(.init(body: .json(.init(id: session.id, url: session.url))))
    }

    func getSubscription(_ input: Operations.GetSubscription.Input) async throws -> Operations.GetSubscription.Output {
        let identity = try RequestScope.requireIdentity()
        return .ok(.init(body: .json(.init(try await billing.subscription(userID: identity.user.id)))))
    }

    func cancelSubscription(_ input: Operations.CancelSubscription.Input) async throws -> Operations.CancelSubscription.Output {
        let identity = try RequestScope.requireIdentity()
        return .ok(.init(body: .json(.init(try await billing.cancel(userID: identity.user.id)))))
    }

    func stripeWebhook(_ input: Operations.StripeWebhook.Input) async throws -> Operations.StripeWebhook.Output {
        guard let raw = RequestScope.current?.rawBody else { throw AppError.badRequest("Expected the event as the body.") }
        let outcome = try await billing.handleWebhook(payload: Array(raw.readableBytesView), signature: input.headers.stripeSignature)
        let value: Components.Schemas.WebhookReceipt.OutcomePayload = switch outcome {
        case .applied: .applied
        case .duplicate: .duplicate
        case .ignored: .ignored
        }
        return .ok(.init(body: .json(.init(received: true, outcome: value))))
    }
}

extension Components.Schemas.SubscriptionInfo {
    init(_ subscription: Subscription?) {
        self.init(tier: subscription?.tier, status: subscription?.status ?? "none", seats: subscription?.seats ?? 1,
                  currentPeriodEnd: subscription?.currentPeriodEnd, cancelAtPeriodEnd: subscription?.cancelAtPeriodEnd ?? false)
    }
}
