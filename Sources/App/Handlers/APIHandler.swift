import API
import Agents
import Blueprints
import Connectors
import Core
import Foundation
import Storage

/// Implements the generated contract. Handlers translate between API types and `Core`; they throw `AppError`s,
/// which `RequestScopeMiddleware` renders as problem documents.
struct APIHandler: APIProtocol {
    let accounts: Accounts
    let database: any Database
    let conversations: Conversations
    let orchestrator: Orchestrator
    let integrations: Integrations
    let teams: Teams
    let memories: Memories
    /// The served blueprint, if any.
    let app: Blueprint?
    let validator: IntegrationValidator
    let plans: Plans
    let quotas: Quotas
    let usage: UsageStore
    let billing: Billing
    let prices: [String: ModelPrice]
    let clock: WallClock
}

extension APIHandler {
    /// The id in a path, or a 404 naming what it would identify: a malformed id finds nothing, as another user's does.
    func pathID(_ text: String, _ what: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw AppError.notFound(what) }
        return id
    }
}

/// API representations of Core models.
extension Components.Schemas.User {
    init(_ user: User) {
        self.init(id: user.id.lowercased, email: user.email, name: user.name, tier: user.tier, createdAt: user.createdAt)
    }
}

extension Components.Schemas.TokenResponse {
    init(_ pair: TokenPair) {
        self.init(accessToken: pair.accessToken, refreshToken: pair.refreshToken, tokenType: .bearer,
                  expiresIn: pair.expiresIn, expiresAt: pair.expiresAt, user: .init(pair.user))
    }
}
