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
            switch declared[key]! {
            case .string(let text): keys[key] = text
            case .int(let number): keys[key] = String(number)
            case .double(let number): keys[key] = String(number)
            case .bool(let flag): keys[key] = flag ? "true" : "false"
            case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): keys[key] = items.compactMap(\.stringValue).joined(separator: ",")
            default: problem("config." + key, "must be text, a number, true or false, or a list of texts")
            }
        }
        return keys
    }
}
