import API
import Agents
import Blueprints
import Connectors
import Core
import Foundation
import Storage

/// Implements the generated contract. Handlers translate between API types and `Core`; they throw `AppError`s,
/// which `RequestScopeMiddleware` renders as problem documents.
///
/// A class: the generated server copies its handler into every request's closures, and copying this many fields
/// (retaining each) was a measurable part of a request.
final class APIHandler: APIProtocol {
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

    init(accounts: Accounts, database: any Database, conversations: Conversations, orchestrator: Orchestrator,
         integrations: Integrations, teams: Teams, memories: Memories, app: Blueprint?, validator: IntegrationValidator,
         plans: Plans, quotas: Quotas, usage: UsageStore, billing: Billing, prices: [String: ModelPrice], clock: WallClock) {
        self.accounts = accounts
        self.database = database
        self.conversations = conversations
        self.orchestrator = orchestrator
        self.integrations = integrations
        self.teams = teams
        self.memories = memories
        self.app = app
        self.validator = validator
        self.plans = plans
        self.quotas = quotas
        self.usage = usage
        self.billing = billing
        self.prices = prices
        self.clock = clock
    }
}

extension APIHandler {
    /// The id in a path, or a 404 naming what it would identify: a malformed id finds nothing, as another user's does.
    func pathID(_ text: String, _ what: String) throws -> UUID {
        guard let id = UUID.parse(text) else { throw AppError.notFound(what) }
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
