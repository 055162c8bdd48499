import App
import Core

extension Settings {
    /// New users on the standard free tier, changed by `adjust`; `also` names standard tiers offered besides.
    mutating func freeTier(also: [String] = [], _ adjust: (inout Tier) -> Void = { _ in }) {
        var free = Plans.standard.tiers["free"]!
        adjust(&free)
        plans = Plans(tiers: [free] + also.map { Plans.standard.tiers[$0]! }, defaultTier: "free")
        accounts.defaultTier = "free"
        accounts.tiers = ["free"] + also
    }
}

extension Settings {
    /// The configured tiers as they are, with `name` the tier of new users and of users whose subscription ends.
    mutating func defaultTier(_ name: String) {
        plans = Plans(tiers: plans.order.compactMap { plans.tiers[$0] }, defaultTier: name)
        accounts.defaultTier = name
    }
}
