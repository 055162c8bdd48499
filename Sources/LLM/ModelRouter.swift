import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization

/// How hard the router tries before it gives up on a model.
public struct RetryPolicy: Sendable {
    /// The first backoff; each retry doubles it, up to `maxBackoff`, and a random part of it is waited (full jitter).
    public var baseBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(8)
    /// A `Retry-After` longer than this is not waited for: the router moves on to the fallbacks.
    public var maxRetryAfter: Duration = .seconds(30)
    /// Failures in a row after which a model is skipped for `cooldown`.
    public var cooldownAfter: Int = 3
    public var cooldown: Duration = .seconds(30)

    public init() {}
}

/// A streamed response as the router hands it on: which model answers (before its first event), then its events.
public enum RoutedEvent: Sendable {
    case model(name: String, provider: String)
    case event(ModelEvent)
}

/// The configured models by name. Calls go to a model with bounded retries (exponential backoff with jitter,
/// `Retry-After` honoured, only for connection errors, 408, 409, 429 and 5xx), then to its fallbacks in order; a model
/// that keeps failing is skipped for a while. A streamed response is retried only while nothing of it has been
/// passed on.
public final class ModelRouter: Sendable {
    public struct Entry: Sendable {
        public let config: ModelConfig
        public let provider: any ModelProvider
    }

    public let models: [String: Entry]
    public let defaultModel: String
    let policy: RetryPolicy
    let logger: Logger
    private let health = Mutex<[String: Health]>([:])

    struct Health {
        var failures = 0
        var coolingUntil: ContinuousClock.Instant?
    }

    public init(models: [String: Entry], defaultModel: String, policy: RetryPolicy = RetryPolicy(), logger: Logger) {
        self.models = models
        self.defaultModel = defaultModel
        self.policy = policy
        self.logger = logger
    }

    /// Builds every configured model's adapter; each gets an HTTP client with the model's timeouts. When one cannot
    /// be built, those built already are shut down before the error is thrown.
    public static func build(configs: [ModelConfig], defaultModel: String, policy: RetryPolicy = RetryPolicy(),
                             logger: Logger) async throws -> ModelRouter {
        var models: [String: Entry] = [:]
        for config in configs {
            do {
                models[config.name] = Entry(config: config, provider: try makeProvider(config))
            } catch {
                for entry in models.values { await entry.provider.shutdown() }
                throw error
            }
        }
        return ModelRouter(models: models, defaultModel: defaultModel, policy: policy, logger: logger)
    }

    static func makeProvider(_ config: ModelConfig) throws -> any ModelProvider {
        func client() -> HTTPClient {
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .nanoseconds(Int64(config.connectTimeout.nanoseconds)),
                                          read: .nanoseconds(Int64(config.readTimeout.nanoseconds)))
            // A streamed response holds its connection for the whole answer: the default of 8 per host would queue
            // every turn beyond the eighth behind the others (HTTP/2 providers multiplex and are not limited).
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: config.maxConnections)
            // A refused connection fails at once, so that our own retries and fallbacks decide what happens next.
            configuration.connectionPool.retryConnectionEstablishment = false
            return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        }
        switch config.provider {
        case .openai: return OpenAIProvider(config: config, client: client())
        case .anthropic: return AnthropicProvider(config: config, client: client())
        case .gemini: return GeminiProvider(config: config, client: client())
        case .vertex:
            guard let path = config.credentialsFile else {
                throw ModelConfigError("models.\(config.name).credentials_file is required for provider vertex")
            }
            guard let data = FileManager.default.contents(atPath: path), let json = JSONValue.parse(data) else {
                throw ModelConfigError("models.\(config.name).credentials_file: cannot read a JSON key at \(path)")
            }
            let account: GoogleServiceAccount
            do { account = try GoogleServiceAccount(json: json) } catch let error as GoogleServiceAccount.Invalid {
                throw ModelConfigError("models.\(config.name).credentials_file: " + error.problems.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            }
            var config = config
            if config.vertexProject == nil { config.vertexProject = account.projectID }
            return GeminiProvider(config: config, client: client(), tokens: GoogleAccessTokenSource(account: account))
        case .mock:
            let script: MockScript
            do { script = try config.mockScript.map(MockScript.init(contentsOfFile:)) ?? .demo } catch {
                throw ModelConfigError("models.\(config.name).script: \(error)")
            }
            return MockProvider(config: config, script: script)
        }
    }

    public func shutdown() async {
        for entry in models.values { await entry.provider.shutdown() }
    }

    /// The model and its fallbacks, in order, each once.
    func chain(for name: String) -> [String] {
        var chain: [String] = []
        for candidate in [name] + (models[name]?.config.fallbacks ?? []) where models[candidate] != nil && !chain.contains(candidate) {
            chain.append(candidate)
        }
        return chain
    }

    // MARK: Calls

    /// A streamed response from `model` or, failing that, its fallbacks, handed to `receive` event by event. The
    /// response is read in the caller's task, not a producer task of its own: a held stream costs one task fewer, and
    /// each event one hand-off fewer.
    public func stream(model: String, request: ChatRequest, _ receive: (RoutedEvent) -> Void) async throws {
        try await attempt(model: model) { name, entry in
            let events = try await entry.provider.stream(request)
            var announced = false
            do {
                for try await event in events {
                    if !announced {
                        receive(.model(name: name, provider: entry.provider.providerName))
                        announced = true
                    }
                    receive(.event(event))
                }
            } catch where announced {
                throw PassedOn(error: error)
            }
        }
    }

    /// A whole response from `model` or its fallbacks, and the name of the model that gave it.
    public func complete(model: String, request: ChatRequest) async throws -> (response: ModelResponse, model: String, provider: String) {
        let result = Mutex<(ModelResponse, String, String)?>(nil)
        try await attempt(model: model) { name, entry in
            let response = try await entry.provider.complete(request)
            result.withLock { $0 = (response, name, entry.provider.providerName) }
        }
        guard let (response, name, provider) = result.withLock({ $0 }) else {
            throw ProviderError(.unavailable, message: "No model answered.", model: model)
        }
        return (response, name, provider)
    }

    /// A failure after part of the response was passed on: final, since the caller already holds part of the answer.
    private struct PassedOn: Error {
        let error: any Error
    }

    /// Runs `call` on each model of the chain until one succeeds.
    private func attempt(model: String, _ call: (String, Entry) async throws -> Void) async throws {
        let chain = chain(for: model)
        guard !chain.isEmpty else { throw ProviderError(.notFound, message: "No model is configured under this name.", model: model) }
        var lastError: ProviderError?
        var shortestCooldown: Duration?
        for name in chain {
            guard let entry = models[name] else { continue }
            if let remaining = coolingDown(name) {
                logger.debug("model cooling down, skipped", metadata: ["model": "\(name)"])
                shortestCooldown = min(shortestCooldown ?? remaining, remaining)
                continue
            }
            var attempt = 1
            while true {
                do {
                    try await call(name, entry)
                    recordSuccess(name)
                    return
                } catch {
                    try Task.checkCancellation()
                    let underlying = (error as? PassedOn)?.error ?? error
                    var failure = (underlying as? ProviderError) ?? ProviderError(.connection, message: "\(type(of: underlying))")
                    failure.model = name
                    recordFailure(name, failure)
                    if error is PassedOn { throw failure }
                    lastError = failure
                    guard failure.isRetryable, attempt < max(1, entry.config.maxAttempts), let wait = backoff(attempt, failure) else {
                        logger.warning("model failed", metadata: ["model": "\(name)", "kind": "\(failure.kind.rawValue)",
                                                                  "status": "\(failure.status.map(String.init) ?? "-")", "attempts": "\(attempt)"])
                        break
                    }
                    logger.info("model failed, retrying", metadata: ["model": "\(name)", "kind": "\(failure.kind.rawValue)",
                                                                     "attempt": "\(attempt)", "wait_ms": "\(wait.milliseconds)"])
                    try await Task.sleep(for: wait)
                    attempt += 1
                }
            }
        }
        if var lastError {
            if chain.count > 1 { lastError.message += " (also tried: \(chain.filter { $0 != lastError.model }.joined(separator: ", ")))" }
            throw lastError
        }
        throw ProviderError(.unavailable, message: "The model is cooling down after repeated failures; try again shortly.",
                            retryAfter: shortestCooldown, model: model)
    }

    /// The wait before attempt `attempt + 1`, or nil when the provider asks for longer than we are willing to wait.
    private func backoff(_ attempt: Int, _ failure: ProviderError) -> Duration? {
        if let retryAfter = failure.retryAfter {
            return retryAfter <= policy.maxRetryAfter ? retryAfter : nil
        }
        let ceiling = min(policy.maxBackoff, policy.baseBackoff * Int(1 << min(attempt - 1, 20)))
        return .nanoseconds(Int64.random(in: 0...max(1, Int64(ceiling.nanoseconds))))
    }

    private func coolingDown(_ name: String) -> Duration? {
        health.withLock { health in
            guard let until = health[name]?.coolingUntil else { return nil }
            let now = ContinuousClock.now
            if until <= now {
                health[name]?.coolingUntil = nil
                return nil
            }
            return until - now
        }
    }

    private func recordSuccess(_ name: String) {
        health.withLock { $0[name] = Health() }
    }

    /// Failures that say something about the model (not about this one request) count towards its cooldown.
    private func recordFailure(_ name: String, _ failure: ProviderError) {
        guard failure.kind != .badRequest, failure.kind != .contextLength else { return }
        let cooled = health.withLock { health -> Bool in
            var entry = health[name] ?? Health()
            entry.failures += 1
            let cooled = entry.failures >= policy.cooldownAfter
            if cooled {
                entry.failures = 0
                entry.coolingUntil = ContinuousClock.now + policy.cooldown
            }
            health[name] = entry
            return cooled
        }
        if cooled { logger.warning("model cooling down", metadata: ["model": "\(name)", "seconds": "\(policy.cooldown.components.seconds)"]) }
    }
}

public struct ModelConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Duration {
    var nanoseconds: Double { Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9 }
    var milliseconds: Int64 { Int64(nanoseconds / 1e6) }
}
