import Core
import LLM

/// A blueprint's own tier matrix (`tiers:`), read as configuration: each tier becomes the keys `tiers.<name>.*` (and
/// `tiers`, `plans.default_tier`) that the server's configuration reads, at the lowest precedence, so flags, the
/// environment and `.env` still override any of them. Tiers the platform knows (free, pro, power, team) keep the
/// limits the blueprint leaves out; a new tier states its rate and its token budget.
extension Checker {
    static let tierKeys = ["requests_per_minute", "monthly_tokens", "storage_mb", "features", "per_seat", "stripe_price", "default", "limits"]
    static let knownTiers: Set = ["free", "pro", "power", "team"]

    mutating func tierConfiguration(_ value: JSONValue?) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let tiers) = value, !tiers.isEmpty else {
            problem("tiers", "must map tier names to their limits, e.g. free: {requests_per_minute: 20, monthly_tokens: 200000}")
            return [:]
        }
        var keys: [String: String] = [:]
        var defaults: [String] = []
        let names = inFileOrder(tiers, at: "tiers")
        for name in names {
            let at = "tiers." + name
            guard Names.isIdentifier(name, maxLength: 40) else {
                problem(at, "a tier's name must be lowercase letters, digits or _, starting with a letter")
                continue
            }
            guard case .object(let spec) = tiers[name] ?? .null else {
                problem(at, "must be a mapping of limits (requests_per_minute, monthly_tokens, storage_mb, features...)")
                continue
            }
            allowOnly(spec, at: at, known: Set(Self.tierKeys))
            let prefix = "tiers.\(name)."
            for (key, range) in [("requests_per_minute", 1...1_000_000), ("monthly_tokens", 0...Int(Int32.max) * 1000), ("storage_mb", 0...100_000_000)] {
                guard let given = spec[key] else { continue }
                guard let number = given.intValue, range.contains(number) else {
                    problem(at + "." + key, "must be an integer in \(range.lowerBound)...\(range.upperBound)")
                    continue
                }
                keys[prefix + key] = String(number)
            }
            if !Self.knownTiers.contains(name), spec["requests_per_minute"] == nil || spec["monthly_tokens"] == nil {
                problem(at, "a new tier needs requests_per_minute and monthly_tokens")
            }
            if let features = spec["features"] {
                let list = strings(features, at: at + ".features")
                for (index, feature) in list.enumerated() where feature.isEmpty || feature.contains(",") || feature.contains(where: \.isWhitespace) {
                    problem(at + ".features.\(index)", "a feature is a name without commas or spaces")
                }
                keys[prefix + "features"] = list.joined(separator: ",")
            }
            if let limits = spec["limits"] {
                guard case .object(let counts) = limits else {
                    problem(at + ".limits", "must map the app's limits to counts, e.g. {agents: 3, backup_gb: 0} (-1: unlimited)")
                    continue
                }
                var entries: [String] = []
                for key in counts.keys.sorted() {
                    guard Names.isIdentifier(key, maxLength: 40), let count = counts[key]?.intValue, count >= -1 else {
                        problem("\(at).limits.\(key)", "must be a name (lowercase letters, digits, _) with a count of -1 (unlimited) or more")
                        continue
                    }
                    entries.append("\(key)=\(count)")
                }
                keys[prefix + "limits"] = entries.joined(separator: ",")
            }
            if let seat = spec["per_seat"] {
                if let flag = seat.boolValue { keys[prefix + "per_seat"] = String(flag) } else { problem(at + ".per_seat", "must be true or false") }
            }
            if let price = spec["stripe_price"] {
                if let text = price.stringValue, !text.isEmpty { keys[prefix + "stripe_price"] = text } else { problem(at + ".stripe_price", "must be a Stripe price id") }
            }
            if let flag = spec["default"] {
                if flag.boolValue == nil { problem(at + ".default", "must be true or false") }
                if flag.boolValue == true { defaults.append(name) }
            }
        }
        if defaults.count > 1 { problem("tiers", "only one tier can be the default (\(defaults.joined(separator: ", ")) say they are)") }
        keys["tiers"] = names.joined(separator: ",")
        if let first = defaults.first { keys["plans.default_tier"] = first }
        return keys
    }
}
