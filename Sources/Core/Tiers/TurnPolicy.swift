import Foundation
import LLM

/// What a user's plan allows a chat turn, asked by the orchestrator: admission before anything runs, the tools the
/// model may see, and the debit of what the turn used when it ends.
public protocol TurnPolicy: Sendable {
    /// Throws 403 `feature_not_in_plan`, 402 `quota_exceeded` or `storage_quota_exceeded` before the turn starts.
    func admit(user: User, agent: String) async throws
    /// Throws 402 `quota_exceeded` before a further model step when the budget is spent, counting what the turn has
    /// used so far: a long tool-using turn stops at the budget instead of running past it.
    func admitStep(user: User, used: Usage) async throws
    func allowsTool(_ name: String, user: User) -> Bool
    /// Whether a router or pipeline may run this agent for the user.
    func allowsAgent(_ name: String, user: User) -> Bool
    /// Debits `usage` once for `turnID`, however often it is called.
    func debit(turnID: UUID, user: User, usage: Usage) async throws
}

/// The plan's rules and the monthly token budget.
public struct PlanPolicy: TurnPolicy {
    public let plans: Plans
    public let quotas: Quotas

    public init(plans: Plans, quotas: Quotas) {
        self.plans = plans
        self.quotas = quotas
    }

    public func admit(user: User, agent: String) async throws {
        let tier = plans.tier(user.tier)
        for feature in ["chat", "agent:\(agent)"] where !tier.includes(feature) {
            throw AppError.featureNotInPlan(feature, tier: tier.name)
        }
        try await quotas.admit(user: user)
        try await quotas.admitStorage(user: user)
    }

    public func admitStep(user: User, used: Usage) async throws {
        try await quotas.admit(user: user, pending: Int64(used.totalTokens))
    }

    public func allowsTool(_ name: String, user: User) -> Bool {
        plans.tier(user.tier).includes("tool:\(name)")
    }

    public func allowsAgent(_ name: String, user: User) -> Bool {
        plans.tier(user.tier).includes("agent:\(name)")
    }

    public func debit(turnID: UUID, user: User, usage: Usage) async throws {
        try await quotas.debit(turnID: turnID, userID: user.id, tokens: Int64(usage.totalTokens))
    }
}
