import Configuration
import Foundation

/// Reads documented keys (`http.trusted_proxies`) from the configuration providers and collects what is wrong with
/// them, so that start-up reports every bad key at once.
final class SettingsReader {
    let config: ConfigReader
    private(set) var problems: [String] = []

    init(_ config: ConfigReader) {
        self.config = config
    }

    func problem(_ text: String) {
        problems.append(text)
    }

    /// The command line splits a value at commas (`--http-cors-origins a,b` is two values) and then has no single
    /// string for it: such a value is read back as the list it became, so commas never make a flag vanish.
    func string(_ key: String, secret: Bool = false) -> String? {
        let configKey = Self.configKey(key)
        let text = config.string(forKey: configKey, isSecret: secret)
            ?? config.stringArray(forKey: configKey, isSecret: secret)?.joined(separator: ",")
        return text.flatMap { $0.isEmpty ? nil : $0 }
    }

    func list(_ key: String) -> [String] {
        (string(key) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func int(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
        guard let text = string(key) else { return fallback }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            problem("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            return fallback
        }
        return value
    }

    func bool(_ key: String, _ fallback: Bool) -> Bool {
        guard let text = string(key) else { return fallback }
        guard let value = Bool(text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            problem("\(key) must be true or false, got '\(text)'")
            return fallback
        }
        return value
    }

    func double(_ key: String, _ range: ClosedRange<Double>) -> Double? {
        guard let text = string(key) else { return nil }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            problem("\(key) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            return nil
        }
        return value
    }

    /// An environment variable named by another setting (`models.gpt.api_key_env=OPENAI_API_KEY`), from the
    /// environment or `.env`; always a secret.
    func secret(environmentVariable name: String) -> String? {
        let key = ConfigKey(name.lowercased().split(separator: "_").map(String.init))
        return config.string(forKey: key, isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The lookup key of a documented key: `http.trusted_proxies` becomes `["http", "trustedProxies"]`, which the
    /// providers spell `--http-trusted-proxies` and `HTTP_TRUSTED_PROXIES`. (Kept as written, the underscore would
    /// survive into the flag, `--http-trusted_proxies`, and the dashed flag a user types would be silently ignored.)
    static func configKey(_ dotted: String) -> ConfigKey {
        ConfigKey(dotted.split(separator: ".").map { component in
            let words = component.split(separator: "_")
            return words.enumerated().map { $0 == 0 ? String($1) : $1.prefix(1).uppercased() + $1.dropFirst() }.joined()
        })
    }
}
