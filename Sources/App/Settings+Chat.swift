import Agents
import Connectors
import Core
import Foundation
import LLM

/// The chat keys: models (`models`, `models.<name>.*`), agents (`agents`, `agents.<name>.*`), `chat.*` and the
/// retry policy (`llm.*`). Names are lowercase letters, digits and `_`, so every key has an environment spelling
/// (`MODELS_FAST_BASE_URL`).
extension Settings {
    mutating func readChat(_ keys: SettingsReader) {
        if let configured = Self.named("models", keys, read: { readModel($0, keys) }) { models = configured }
        for model in models {
            let prefix = "models.\(model.name)."
            if let input = keys.double(prefix + "price_input", 0...10_000), let output = keys.double(prefix + "price_output", 0...10_000) {
                prices[model.name] = ModelPrice(input: input, cachedInput: keys.double(prefix + "price_cached_input", 0...10_000), output: output)
            }
        }
        defaultModel = keys.string("chat.default_model") ?? models.first?.name ?? defaultModel
        let known = Set(models.map(\.name))
        if !known.contains(defaultModel) { keys.problem("chat.default_model: '\(defaultModel)' is not in models (\(known.sorted().joined(separator: ", ")))") }
        for model in models {
            for fallback in model.fallbacks where !known.contains(fallback) {
                keys.problem("models.\(model.name).fallbacks: '\(fallback)' is not in models")
            }
        }

        if let configured = Self.named("agents", keys, read: { readAgent($0, keys, knownModels: known) }) { agents = configured }
        defaultAgent = keys.string("chat.default_agent") ?? agents.first?.name ?? defaultAgent
        if !agents.contains(where: { $0.name == defaultAgent }) {
            keys.problem("chat.default_agent: '\(defaultAgent)' is not in agents (\(agents.map(\.name).joined(separator: ", ")))")
        }

        chat.turnTimeout = .seconds(keys.int("chat.turn_timeout_seconds", 300, 1...3600))
        chat.toolTimeout = .seconds(keys.int("chat.tool_timeout_seconds", 30, 1...3600))
        chat.historyMessages = keys.int("chat.history_messages", chat.historyMessages, 2...10_000)
        chat.maxConcurrentTurnsPerUser = keys.int("chat.max_concurrent_turns_per_user", chat.maxConcurrentTurnsPerUser, 1...10_000)
        chat.approvalTimeout = .seconds(keys.int("chat.approval_timeout_seconds", 86_400, 60...30 * 86_400))
        chat.guardWords = keys.int("chat.guard_words", chat.guardWords, 4...50)
        retry.baseBackoff = .milliseconds(keys.int("llm.retry_base_ms", 500, 0...60_000))
        retry.maxBackoff = .milliseconds(keys.int("llm.retry_max_ms", 8000, 0...600_000))
        retry.maxRetryAfter = .seconds(keys.int("llm.max_retry_after_seconds", 30, 0...3600))
        retry.cooldownAfter = keys.int("llm.cooldown_after_failures", 3, 1...1000)
        retry.cooldown = .seconds(keys.int("llm.cooldown_seconds", 30, 0...86_400))
    }

    /// The key in the environment variable `<prefix>api_key_env` names (or `defaultVariable`); a problem when it is
    /// `required` and not set.
    static func apiKey(_ prefix: String, _ keys: SettingsReader, defaultVariable: String?, required: Bool) -> String? {
        guard let variable = keys.string(prefix + "api_key_env") ?? defaultVariable else { return nil }
        let key = keys.secret(environmentVariable: variable)
        if key == nil, required { keys.problem("\(prefix)api_key_env: the environment variable \(variable) is not set") }
        return key
    }

    /// The entries listed under `key` (`models=a,b`), each read by `read`; nil when the list is not set.
    static func named<Entry>(_ key: String, _ keys: SettingsReader, read: (String) -> Entry?) -> [Entry]? {
        let names = keys.list(key)
        guard !names.isEmpty else { return nil }
        return names.compactMap { name in
            guard name.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
                keys.problem("\(key): '\(name)' is not a valid name (lowercase letters, digits and _)")
                return nil
            }
            return read(name)
        }
    }

    private func readModel(_ name: String, _ keys: SettingsReader) -> ModelConfig? {
        let prefix = "models.\(name)."
        guard let providerText = keys.string(prefix + "provider") else {
            keys.problem("\(prefix)provider is required (\(ModelConfig.Provider.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        guard let provider = ModelConfig.Provider(rawValue: providerText) else {
            keys.problem("\(prefix)provider must be one of \(ModelConfig.Provider.allCases.map(\.rawValue).joined(separator: ", ")), got '\(providerText)'")
            return nil
        }
        let modelID = keys.string(prefix + "model") ?? (provider == .mock ? name : nil)
        guard let modelID else {
            keys.problem("\(prefix)model is required: the provider's model id, e.g. gpt-4o-mini")
            return nil
        }
        var config = ModelConfig(name: name, provider: provider, model: modelID)
        config.baseURL = keys.string(prefix + "base_url")
        if let base = config.baseURL, URL(string: base)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            keys.problem("\(prefix)base_url must be an http(s) URL, got '\(base)'")
        }
        let defaultKeyVariable: String? = switch provider {
        case .openai: "OPENAI_API_KEY"
        case .anthropic: "ANTHROPIC_API_KEY"
        case .gemini: "GEMINI_API_KEY"
        case .vertex, .mock: nil
        }
        // A missing key is fine for local OpenAI-compatible servers (Ollama, vLLM) with a base URL of their own.
        config.apiKey = Self.apiKey(prefix, keys, defaultVariable: defaultKeyVariable,
                                    required: provider == .anthropic || provider == .gemini || (provider == .openai && config.baseURL == nil))
        config.fallbacks = keys.list(prefix + "fallbacks")
        config.readTimeout = .seconds(keys.int(prefix + "timeout", 120, 1...3600))
        config.connectTimeout = .seconds(keys.int(prefix + "connect_timeout", 10, 1...600))
        config.maxAttempts = keys.int(prefix + "max_attempts", 3, 1...10)
        config.maxConnections = keys.int(prefix + "max_connections", 256, 1...100_000)
        if keys.string(prefix + "max_output_tokens") != nil { config.maxOutputTokens = keys.int(prefix + "max_output_tokens", 4096, 1...1_000_000) }
        config.temperature = keys.double(prefix + "temperature", 0...2)
        config.vertexProject = keys.string(prefix + "project")
        config.vertexLocation = keys.string(prefix + "location") ?? config.vertexLocation
        config.credentialsFile = keys.string(prefix + "credentials_file")
        if provider == .vertex, config.credentialsFile == nil {
            keys.problem("\(prefix)credentials_file is required for provider vertex (a service-account JSON key)")
        }
        config.mockScript = keys.string(prefix + "script")
        return config
    }

    private func readAgent(_ name: String, _ keys: SettingsReader, knownModels: Set<String>) -> AgentDefinition? {
        let prefix = "agents.\(name)."
        // The built-in agents can be listed and adjusted without restating them.
        let base = ([AgentDefinition.assistant] + ConnectorAgents.all).first { $0.name == name }
        guard let prompt = keys.string(prefix + "system_prompt") ?? base?.systemPrompt else {
            keys.problem("\(prefix)system_prompt is required")
            return nil
        }
        var agent = AgentDefinition(name: name, description: keys.string(prefix + "description") ?? base?.description ?? "",
                                    model: keys.string(prefix + "model") ?? base?.model, systemPrompt: prompt,
                                    tools: keys.string(prefix + "tools") != nil ? keys.list(prefix + "tools") : (base?.tools ?? []),
                                    maxIterations: keys.int(prefix + "max_iterations", base?.maxIterations ?? 8, 1...100))
        if let model = agent.model, !knownModels.contains(model) {
            keys.problem("\(prefix)model: '\(model)' is not in models")
            agent.model = nil
        }
        if let memory = keys.string(prefix + "memory") {
            if let mode = MemoryMode(rawValue: memory) {
                agent.memory = mode
                // `tools` and `auto` give the agent the memory tools.
                if mode != .off { agent.tools += MemoryTool.Operation.allCases.map(\.toolName).filter { !agent.tools.contains($0) } }
            } else {
                keys.problem("\(prefix)memory must be off, tools or auto, got '\(memory)'")
            }
        }
        return agent
    }
}
