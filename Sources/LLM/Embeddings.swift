import AsyncHTTPClient
import Crypto
import Foundation

/// A configured embedding model: `embeddings.<name>.*` in the settings.
public struct EmbeddingConfig: Sendable {
    public enum Provider: String, Sendable, CaseIterable {
        /// OpenAI `POST {base}/embeddings`, and every server that speaks it (vLLM, Ollama, a local server).
        case openai
        /// Gemini `batchEmbedContents` with an API key.
        case gemini
        /// Deterministic vectors from the words of the text, for demos and tests: texts sharing words are near.
        case mock
    }

    public var name: String
    public var provider: Provider
    public var model: String
    public var baseURL: String?
    public var apiKey: String?
    /// The vectors' length: asked of providers that can shorten them, and checked on every answer.
    public var dimensions: Int
    public var connectTimeout: Duration = .seconds(10)
    public var readTimeout: Duration = .seconds(60)
    public var maxAttempts: Int = 3

    public init(name: String, provider: Provider, model: String, dimensions: Int) {
        self.name = name
        self.provider = provider
        self.model = model
        self.dimensions = dimensions
    }

    /// Texts one request carries at most: each provider's own limit.
    var batchLimit: Int {
        switch provider {
        case .openai: 2048
        case .gemini: 100
        case .mock: 10_000
        }
    }
}

/// Unit-length vectors for texts, in their order, and what making them cost.
public struct Embeddings: Sendable {
    public var vectors: [[Float]]
    public var usage: Usage
}

/// Turns texts into vectors with one configured model: batched to the provider's limit, retried as chat is
/// (retryable failures, exponential backoff with jitter, `Retry-After` honoured), every vector checked to have the
/// configured dimensions and normalised to unit length, so that a dot product is the cosine.
public final class Embedder: Sendable {
    public let config: EmbeddingConfig
    private let http: ProviderHTTP
    private let policy: RetryPolicy

    /// `client` is shared (the process's own by default): an embedder holds no connection of its own to close, and
    /// each call is bounded by `config.readTimeout` itself.
    public init(_ config: EmbeddingConfig, policy: RetryPolicy = RetryPolicy(), client: HTTPClient = .shared) {
        self.config = config
        self.policy = policy
        http = ProviderHTTP(client: client, redactor: Redactor(secrets: [config.apiKey].compactMap { $0 }))
    }

    public func embed(_ texts: [String]) async throws -> Embeddings {
        var result = Embeddings(vectors: [], usage: .zero)
        var start = 0
        while start < texts.count {
            let batch = Array(texts[start..<min(texts.count, start + config.batchLimit)])
            let answer = try await withRetries { try await self.bounded { try await self.call(batch) } }
            guard answer.vectors.count == batch.count else {
                throw ProviderError(.malformed, message: "The provider answered \(answer.vectors.count) vectors for \(batch.count) texts.", model: config.name)
            }
            for vector in answer.vectors where vector.count != config.dimensions {
                throw ProviderError(.malformed, message: "The provider answered vectors of \(vector.count) dimensions; embeddings.\(config.name).dimensions is \(config.dimensions).",
                                    model: config.name)
            }
            result.vectors += answer.vectors.map(Self.normalized)
            result.usage = result.usage + answer.usage
            start += batch.count
        }
        return result
    }

    public static func normalized(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }

    private func withRetries(_ call: () async throws -> Embeddings) async throws -> Embeddings {
        var attempt = 1
        while true {
            do {
                return try await call()
            } catch {
                try Task.checkCancellation()
                var failure = (error as? ProviderError) ?? ProviderError(.connection, message: "\(type(of: error))")
                failure.model = config.name
                guard failure.isRetryable, attempt < max(1, config.maxAttempts) else { throw failure }
                let ceiling = min(policy.maxBackoff, policy.baseBackoff * Int(1 << min(attempt - 1, 20)))
                let wait = failure.retryAfter.map { min($0, policy.maxRetryAfter) } ?? .nanoseconds(Int64.random(in: 0...max(1, Int64(ceiling.nanoseconds))))
                try await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }

    /// `call`, or a timeout once `config.readTimeout` has passed (the request is cancelled).
    private func bounded(_ call: @escaping @Sendable () async throws -> Embeddings) async throws -> Embeddings {
        let limit = config.readTimeout
        return try await withThrowingTaskGroup(of: Embeddings.self) { group in
            group.addTask { try await call() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw ProviderError(.timeout, message: "No answer within \(limit.components.seconds) seconds.")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }

    private func call(_ texts: [String]) async throws -> Embeddings {
        switch config.provider {
        case .openai:
            var headers: [(String, String)] = []
            if let key = config.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
            var body: [String: JSONValue] = ["model": .string(config.model), "input": .array(texts.map(JSONValue.string)), "encoding_format": "float"]
            // Only OpenAI's text-embedding-3 models take `dimensions`; other servers answer their model's own size.
            if config.model.hasPrefix("text-embedding-3") { body["dimensions"] = .int(Int64(config.dimensions)) }
            let base = (config.baseURL ?? "https://api.openai.com/v1").trimmingSuffix("/")
            let json = try await http.json(try await http.post(base + "/embeddings", headers: headers, body: JSONValue.object(body).jsonBytes) { _, json, text in
                (nil, json?["error"]?["message"]?.stringValue ?? text, nil)
            })
            let data = (json["data"]?.arrayValue ?? []).sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }
            let tokens = json["usage"]?["prompt_tokens"]?.intValue ?? json["usage"]?["total_tokens"]?.intValue
            return Embeddings(vectors: data.map(Self.floats), usage: tokens.map { Usage(inputTokens: $0, outputTokens: 0) } ?? Self.estimated(texts))
        case .gemini:
            let base = (config.baseURL ?? "https://generativelanguage.googleapis.com").trimmingSuffix("/")
            let model = config.model.hasPrefix("models/") ? config.model : "models/" + config.model
            let requests = texts.map { text -> JSONValue in
                ["model": .string(model), "content": ["parts": [["text": .string(text)]]], "outputDimensionality": .int(Int64(config.dimensions))]
            }
            let json = try await http.json(try await http.post("\(base)/v1beta/\(model):batchEmbedContents", headers: [("x-goog-api-key", config.apiKey ?? "")],
                                                               body: JSONValue.object(["requests": .array(requests)]).jsonBytes) { _, json, text in
                (nil, json?["error"]?["message"]?.stringValue ?? text, nil)
            })
            // Gemini does not say what embedding cost: estimated, so that budgets still count it.
            return Embeddings(vectors: (json["embeddings"]?.arrayValue ?? []).map { Self.floats($0["values"] ?? .null) }, usage: Self.estimated(texts))
        case .mock:
            return Embeddings(vectors: texts.map { Self.mockVector($0, dimensions: config.dimensions) }, usage: Self.estimated(texts))
        }
    }

    private static func floats(_ value: JSONValue) -> [Float] {
        (value["embedding"] ?? value).arrayValue?.compactMap { item in
            switch item {
            case .double(let number): Float(number)
            case .int(let number): Float(number)
            default: nil
            }
        } ?? []
    }

    /// About four characters a token, where the provider does not count.
    static func estimated(_ texts: [String]) -> Usage {
        Usage(inputTokens: texts.reduce(0) { $0 + max(1, $1.utf8.count / 4) }, outputTokens: 0)
    }

    /// Each lowercased word (and its first five letters, so that "squat" and "squats" meet) adds to a few of the
    /// vector's places chosen by its hash: texts that share words point the same way.
    static func mockVector(_ text: String, dimensions: Int) -> [Float] {
        var vector = [Float](repeating: 0, count: max(1, dimensions))
        let words = text.lowercased().split { !$0.isLetter && !$0.isNumber }
        for word in words {
            for feature in Set([String(word), String(word.prefix(5))]) {
                let digest = Array(SHA256.hash(data: Data(feature.utf8)))
                for k in 0..<3 {
                    let index = Int(digest[k * 4]) << 8 | Int(digest[k * 4 + 1])
                    vector[index % vector.count] += digest[k * 4 + 2] & 1 == 0 ? 1 : -1
                }
            }
        }
        return normalized(vector)
    }
}
