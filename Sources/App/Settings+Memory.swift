import Core
import Foundation
import LLM

/// The memory keys: embedding models (`embeddings`, `embeddings.<name>.*`), the one memory uses
/// (`memory.embedding`), and `memory.*`.
extension Settings {
    /// The embedding model memory uses.
    public var memoryEmbeddingConfig: EmbeddingConfig {
        embeddings.first { $0.name == memoryEmbedding } ?? EmbeddingConfig(name: "mock", provider: .mock, model: "mock", dimensions: 256)
    }

    mutating func readMemory(_ keys: SettingsReader) {
        if let configured = Self.named("embeddings", keys, read: { readEmbedding($0, keys) }) { embeddings = configured }
        memoryEmbedding = keys.string("memory.embedding") ?? embeddings.first?.name ?? memoryEmbedding
        if !embeddings.contains(where: { $0.name == memoryEmbedding }) {
            keys.problem("memory.embedding: '\(memoryEmbedding)' is not in embeddings (\(embeddings.map(\.name).joined(separator: ", ")))")
        }
        memory.duplicateThreshold = Float(keys.double("memory.duplicate_threshold", 0...1) ?? Double(memory.duplicateThreshold))
        memory.indexBudgetBytes = keys.int("memory.index_budget_mb", memory.indexBudgetBytes >> 20, 1...1_048_576) << 20
        memory.recallLimit = keys.int("memory.recall_limit", memory.recallLimit, 1...Memories.maxLimit)
        memory.recallMinScore = Float(keys.double("memory.recall_min_score", -1...1) ?? Double(memory.recallMinScore))
        memory.extract = keys.bool("memory.extract", memory.extract)
        memory.exchanges = keys.bool("memory.exchanges", memory.exchanges)
    }

    private func readEmbedding(_ name: String, _ keys: SettingsReader) -> EmbeddingConfig? {
        let prefix = "embeddings.\(name)."
        guard let provider = keys.string(prefix + "provider").flatMap(EmbeddingConfig.Provider.init) else {
            keys.problem("\(prefix)provider is required: one of \(EmbeddingConfig.Provider.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        guard let model = keys.string(prefix + "model") ?? (provider == .mock ? name : nil) else {
            keys.problem("\(prefix)model is required: the provider's model id, e.g. text-embedding-3-small")
            return nil
        }
        var config = EmbeddingConfig(name: name, provider: provider, model: model,
                                     dimensions: keys.int(prefix + "dimensions", provider == .mock ? 256 : 1536, 1...8192))
        config.baseURL = keys.string(prefix + "base_url")
        if let base = config.baseURL, URL(string: base)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            keys.problem("\(prefix)base_url must be an http(s) URL, got '\(base)'")
        }
        let defaultKeyVariable: String? = switch provider {
        case .openai: "OPENAI_API_KEY"
        case .gemini: "GEMINI_API_KEY"
        case .mock: nil
        }
        config.apiKey = Self.apiKey(prefix, keys, defaultVariable: defaultKeyVariable,
                                    required: provider == .gemini || (provider == .openai && config.baseURL == nil))
        config.readTimeout = .seconds(keys.int(prefix + "timeout", 60, 1...3600))
        config.maxAttempts = keys.int(prefix + "max_attempts", 3, 1...10)
        return config
    }
}
