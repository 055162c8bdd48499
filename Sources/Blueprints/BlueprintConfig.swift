import LLM

extension Checker {
    /// The parts of configuration an app decides, by their keys: how users sign in (`auth.*`), what memory does
    /// (`memory.*`), chat's limits (`chat.*`), the connectors' flag (`google.mock_flag`). Read at the lowest
    /// precedence, as tiers and models are, so the environment still wins; secrets never go here (keys name
    /// environment variables elsewhere).
    static let configPrefixes = ["auth.", "memory.", "chat.", "google."]

    /// `config: {auth.mode: external, memory.extract: true}`.
    mutating func settingsConfiguration(_ value: JSONValue?) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let declared) = value else {
            problem("config", "must map configuration keys (auth.*, memory.*, chat.*, google.*) to values")
            return [:]
        }
        var keys: [String: String] = [:]
        for key in declared.keys.sorted() {
            guard Self.configPrefixes.contains(where: key.hasPrefix), key.count <= 80 else {
                problem("config." + key, "is not a key an app sets: only auth.*, memory.*, chat.* and google.* are")
                continue
            }
            if case .bool(let flag) = declared[key]! { keys[key] = flag ? "true" : "false" }
            else if let text = Self.configurationText(declared[key]!) { keys[key] = text }
            else { problem("config." + key, "must be text, a number, true or false, or a list of texts") }
        }
        return keys
    }

    /// A blueprint's value as configuration reads it: text as it is, a number written out, a list of texts
    /// comma-separated; nil for anything else.
    static func configurationText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): items.compactMap(\.stringValue).joined(separator: ",")
        default: nil
        }
    }
}
