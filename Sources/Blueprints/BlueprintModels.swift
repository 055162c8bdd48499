import LLM

/// A blueprint's own models (`models:`), read as configuration at the lowest precedence, as its tiers are: an app
/// can ship a scripted `mock` model so that it answers believably with no key at all, and an operator points it at a
/// real provider with the usual keys (`MODELS=gemini`, `MODELS_GEMINI_PROVIDER=gemini`...). A mock's `script` is a
/// file of the blueprint.
extension Checker {
    static let modelKeys: Set = ["provider", "model", "base_url", "api_key_env", "fallbacks", "max_attempts", "timeout", "max_output_tokens",
                                 "temperature", "script"]

    mutating func modelConfiguration(_ value: JSONValue?) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let models) = value, !models.isEmpty else {
            problem("models", "must map model names to {provider, model, ...}, e.g. demo: {provider: mock, script: demo/script.json}")
            return [:]
        }
        var keys: [String: String] = [:]
        let names = inFileOrder(models, at: "models")
        for name in names {
            let at = "models." + name
            guard Names.isIdentifier(name, maxLength: 40), case .object(let spec) = models[name] ?? .null else {
                problem(at, "a model's name is lowercase letters, digits or _, mapped to {provider, model, ...}")
                continue
            }
            allowOnly(spec, at: at, known: Self.modelKeys)
            if spec["provider"]?.stringValue == nil { problem(at + ".provider", "is required: openai, anthropic, gemini, vertex or mock") }
            for key in spec.keys.sorted() where Self.modelKeys.contains(key) {
                let given = spec[key]!
                guard var text = Self.configurationText(given) else {
                    problem("\(at).\(key)", "must be text or a number")
                    continue
                }
                if key == "script" {
                    guard let (file, _) = textFile(given, at: at + ".script", example: "demo/script.json") else { continue }
                    text = directory + "/" + file
                }
                keys["models.\(name).\(key)"] = text
            }
        }
        keys["models"] = names.joined(separator: ",")
        return keys
    }
}
