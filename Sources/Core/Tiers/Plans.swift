import Foundation

/// A tier of the feature matrix: how fast, how much, and what a user on it may use.
public struct Tier: Sendable, Equatable {
    public var name: String
    /// Requests a minute, per seat for per-seat tiers.
    public var requestsPerMinute: Int
    /// Model tokens (input + output) a month, per seat for per-seat tiers.
    public var monthlyTokens: Int64
    public var storageBytes: Int64
    /// What the tier includes: `chat`, `integrations`, `api_keys`, `agent:<name>`, `tool:<name>`, or `agent:*`,
    /// `tool:*` for every agent or tool.
    public var features: Set<String>
    /// Limits multiply by the user's seats.
    public var perSeat: Bool
    /// The Stripe price a checkout for this tier uses; nil for a tier that is not sold.
    public var stripePrice: String?
    /// The app's own limits (`tiers.<name>.limits`: `agents=3,backup_gb=0`), for the app and its features to read;
    /// -1 is unlimited.
    public var limits: [String: Int64] = [:]

    public init(name: String, requestsPerMinute: Int, monthlyTokens: Int64, storageBytes: Int64, features: Set<String>,
                perSeat: Bool = false, stripePrice: String? = nil) {
        self.name = name
        self.requestsPerMinute = requestsPerMinute
        self.monthlyTokens = monthlyTokens
        self.storageBytes = storageBytes
        self.features = features
        self.perSeat = perSeat
        self.stripePrice = stripePrice
    }

    public func includes(_ feature: String) -> Bool {
        if features.contains(feature) { return true }
        guard let kind = feature.split(separator: ":", maxSplits: 1).first, feature.contains(":") else { return false }
        return features.contains("\(kind):*")
    }

    /// Seats come from Stripe's subscription quantity; bounded so that no product of a limit and seats overflows.
    public static let seats = 1...100_000

    public func requestsPerMinute(seats: Int) -> Int { perSeat ? requestsPerMinute * Self.seats.clamp(seats) : requestsPerMinute }
    public func monthlyTokens(seats: Int) -> Int64 { perSeat ? monthlyTokens * Int64(Self.seats.clamp(seats)) : monthlyTokens }
}

/// The feature matrix: every tier by name, and the one new users start on. Read from configuration.
public struct Plans: Sendable {
    public let tiers: [String: Tier]
    public let order: [String]
    public let defaultTier: String

    public init(tiers: [Tier], defaultTier: String) {
        self.tiers = Dictionary(tiers.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.order = tiers.map(\.name)
        self.defaultTier = defaultTier
    }

    /// The tier of that name; the default tier for a name no longer configured (a user keeps working).
    public func tier(_ name: String) -> Tier { tiers[name] ?? tiers[defaultTier]! }

    /// `tier(name).requestsPerMinute(seats:)`, read in place: every authenticated request asks, and a copy of the
    /// tier retained and released each of its strings and sets.
    public func requestsPerMinute(tier name: String, seats: Int) -> Int {
        tiers[name]?.requestsPerMinute(seats: seats) ?? tier(name).requestsPerMinute(seats: seats)
    }

    public static let megabyte: Int64 = 1024 * 1024
    static let everything: Set<String> = ["chat", "integrations", "api_keys", "agent:*", "tool:*"]

    /// Free 20 requests a minute, pro 60, power 120, team 200 per seat.
    public static let standard = Plans(tiers: [
        Tier(name: "free", requestsPerMinute: 20, monthlyTokens: 200_000, storageBytes: 100 * megabyte,
             features: ["chat", "agent:assistant", "tool:current_time", "tool:conversation_search"]),
        Tier(name: "pro", requestsPerMinute: 60, monthlyTokens: 5_000_000, storageBytes: 1024 * megabyte, features: everything),
        Tier(name: "power", requestsPerMinute: 120, monthlyTokens: 20_000_000, storageBytes: 10 * 1024 * megabyte, features: everything),
        Tier(name: "team", requestsPerMinute: 200, monthlyTokens: 20_000_000, storageBytes: 10 * 1024 * megabyte, features: everything, perSeat: true),
    ], defaultTier: "free")
}

extension AppError {
    /// The plan does not include it: 403 naming the feature.
    public static func featureNotInPlan(_ feature: String, tier: String) -> AppError {
        var error = AppError(status: 403, code: "feature_not_in_plan", title: "Forbidden",
                             detail: "Your plan (\(tier)) does not include \(feature). Upgrade to use it.")
        error.extensions["feature"] = feature
        return error
    }
}

extension Plans {
    /// May this identity do something that needs `scope` (for API keys; nil: only a login session may) and
    /// `feature` (for the plan)? An API key also needs a plan that still includes API keys: a downgrade stops every
    /// key at once, without revoking it (an upgrade brings them back).
    public func authorize(_ identity: Identity, scope: String?, feature: String?) throws {
        // A session's request to an operation without a feature, the usual case, has nothing to check: no tier is
        // looked up and copied.
        guard identity.scopes != nil || feature != nil else { return }
        let tier = tier(identity.user.tier)
        if let scopes = identity.scopes {
            guard tier.includes("api_keys") else { throw AppError.featureNotInPlan("api_keys", tier: tier.name) }
            guard let scope else {
                throw AppError(status: 403, code: "session_required", title: "Forbidden", detail: "API keys cannot do this; log in to the account instead.")
            }
            guard scopes.contains(scope) else {
                var error = AppError(status: 403, code: "insufficient_scope", title: "Forbidden", detail: "This API key lacks the scope \(scope).")
                error.extensions["scope"] = scope
                throw error
            }
        }
        if let feature, !tier.includes(feature) { throw AppError.featureNotInPlan(feature, tier: tier.name) }
    }
}

extension ClosedRange where Bound == Int {
    /// `value` moved into the range.
    public func clamp(_ value: Int) -> Int { Swift.min(Swift.max(value, lowerBound), upperBound) }
}
