import Core
import Foundation

/// The keys `tiers`, `tiers.<name>.*`, `plans.default_tier`, `rate_limit.enabled` and `stripe.*`.
extension Settings {
    mutating func readPlans(_ keys: SettingsReader) {
        let names = keys.list("tiers")
        var tiers: [Tier] = []
        for name in names.isEmpty ? Plans.standard.order : names {
            guard !name.isEmpty, name.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
                keys.problem("tiers: '\(name)' is not a valid name (lowercase letters, digits and _)")
                continue
            }
            let prefix = "tiers.\(name)."
            let base = Plans.standard.tiers[name]
            guard base != nil || (keys.string(prefix + "requests_per_minute") != nil && keys.string(prefix + "monthly_tokens") != nil) else {
                keys.problem("\(prefix)requests_per_minute and \(prefix)monthly_tokens are required for a new tier")
                continue
            }
            var tier = base ?? Tier(name: name, requestsPerMinute: 60, monthlyTokens: 0, storageBytes: 100 * Plans.megabyte, features: ["chat"])
            tier.requestsPerMinute = keys.int(prefix + "requests_per_minute", tier.requestsPerMinute, 1...1_000_000)
            tier.monthlyTokens = Int64(keys.int(prefix + "monthly_tokens", Int(tier.monthlyTokens), 0...Int(Int32.max) * 1000))
            tier.storageBytes = Int64(keys.int(prefix + "storage_mb", Int(tier.storageBytes / Plans.megabyte), 0...100_000_000)) * Plans.megabyte
            if keys.string(prefix + "features") != nil { tier.features = Set(keys.list(prefix + "features")) }
            tier.perSeat = keys.bool(prefix + "per_seat", tier.perSeat)
            tier.stripePrice = keys.string(prefix + "stripe_price") ?? tier.stripePrice
            for entry in keys.list(prefix + "limits") {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, let value = Int64(parts[1]), value >= -1 else {
                    keys.problem("\(prefix)limits: '\(entry)' is not name=count (a count of -1 or more)")
                    continue
                }
                tier.limits[parts[0]] = value
            }
            tiers.append(tier)
        }
        let defaultTier = keys.string("plans.default_tier") ?? (tiers.contains { $0.name == "free" } ? "free" : tiers.first?.name ?? "free")
        if !tiers.contains(where: { $0.name == defaultTier }) {
            keys.problem("plans.default_tier: '\(defaultTier)' is not in tiers")
        } else {
            plans = Plans(tiers: tiers, defaultTier: defaultTier)
        }
        accounts.tiers = plans.order
        accounts.defaultTier = plans.defaultTier

        rateLimitEnabled = keys.bool("rate_limit.enabled", rateLimitEnabled)
        billing.secretKey = keys.string("stripe.secret_key", secret: true)
        billing.webhookSecret = keys.string("stripe.webhook_secret", secret: true)
        billing.apiURL = keys.string("stripe.api_url") ?? billing.apiURL
        billing.successURL = keys.string("stripe.success_url") ?? billing.successURL
        billing.cancelURL = keys.string("stripe.cancel_url") ?? billing.cancelURL
    }
}
