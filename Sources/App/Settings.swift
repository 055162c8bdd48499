import Agents
import Configuration
import Blueprints
import Connectors
import Core
import LLM
import Foundation
import Logging

/// Every setting of the server, read once at start-up. Keys are dotted (`http.port`), read from command-line flags
/// (`--http-port`), then the environment (`HTTP_PORT`), then `.env`, then the defaults here. README lists them all.
public struct Settings: Sendable {
    public var httpHost = "127.0.0.1"
    public var httpPort = 8080
    public var corsOrigins: [String] = []
    public var trustedProxies: [String] = []
    public var maxBodyBytes = 1_048_576
    /// Keep-alive connections idle this long are closed.
    public var httpIdleTimeoutSeconds = 75
    /// How long shutdown waits for open requests and streams before it cuts them.
    public var httpShutdownTimeoutSeconds = 25
    public var databaseURL: String?
    public var databaseMaxConnections = 20
    public var dataDirectory = "./data"
    /// A blueprint directory to serve (`blueprint.dir`, or `serve --blueprint DIR`): its collections become routes.
    public var blueprintDirectory: String?
    /// The wait before a failed webhook's first retry; it doubles with each attempt (at most an hour).
    public var webhookRetryMilliseconds = 10_000
    public var jwtPrivateKey: String?
    public var logLevel: Logger.Level = .info
    public var accounts = AccountsSettings()
    /// Models by name; by default one scripted `demo` model, so a fresh server can chat with no key.
    public var models: [ModelConfig] = [ModelConfig(name: "demo", provider: .mock, model: "demo")]
    public var defaultModel = "demo"
    public var agents: [AgentDefinition] = [.assistant] + ConnectorAgents.all
    public var defaultAgent = AgentDefinition.assistant.name
    public var chat = ChatSettings()
    public var retry = RetryPolicy()
    public var vault = VaultSettings()
    public var connectors = ConnectorSettings()
    /// Embedding models by name; memory works out of the box with deterministic mock vectors.
    public var embeddings: [EmbeddingConfig] = [EmbeddingConfig(name: "mock", provider: .mock, model: "mock", dimensions: 256)]
    /// The embedding model memories are made with (`memory.embedding`).
    public var memoryEmbedding = "mock"
    public var memory = MemorySettings()
    /// Client-encrypted storage (a blueprint's `client_storage: true`).
    public var storage = ClientStorageSettings()
    /// Where its bytes go (`storage.dir`); nil: `<data.dir>/blobs`.
    public var storageDirectory: String?
    /// `storage.blobs=s3`: the bucket instead of the file system.
    public var s3: S3Storage?
    /// The feature matrix: tiers, their limits and features.
    public var plans = Plans.standard
    /// Per-user request limits by tier; off only to measure what they cost.
    public var rateLimitEnabled = true
    public var billing = BillingSettings()
    /// Prices per configured model, for usage reports.
    public var prices: [String: ModelPrice] = [:]
    /// The served blueprint's flags as configured (`flags.<name>`), by name; flags left unset keep the blueprint's
    /// default.
    public var flags: [String: Bool] = [:]

    public init() {}

    public var sqlitePath: String { dataDirectory + "/switchboard.sqlite" }
    public var keyringPath: String { vault.keyringFile ?? dataDirectory + "/vault-keyring.json" }
    public var signingKeyPath: String { dataDirectory + "/jwt-signing-key" }

    /// Reads and validates every key; the error names each bad key and what it should be.
    public init(reader config: ConfigReader) throws {
        let keys = SettingsReader(config)
        func string(_ key: String, secret: Bool = false) -> String? { keys.string(key, secret: secret) }
        func list(_ key: String) -> [String] { keys.list(key) }
        func int(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int { keys.int(key, fallback, range) }

        httpHost = string("http.host") ?? httpHost
        httpPort = int("http.port", httpPort, 0...65535)
        corsOrigins = list("http.cors_origins")
        trustedProxies = list("http.trusted_proxies")
        for entry in trustedProxies where AddressRange(entry) == nil {
            keys.problem("http.trusted_proxies: '\(entry)' is not an IP address or CIDR range")
        }
        maxBodyBytes = int("http.max_body_bytes", maxBodyBytes, 1024...(1 << 30))
        httpIdleTimeoutSeconds = int("http.idle_timeout_seconds", httpIdleTimeoutSeconds, 1...86_400)
        httpShutdownTimeoutSeconds = int("http.shutdown_timeout_seconds", httpShutdownTimeoutSeconds, 1...3600)
        databaseURL = string("database.url", secret: true)
        databaseMaxConnections = int("database.max_connections", databaseMaxConnections, 1...1000)
        dataDirectory = string("data.dir") ?? dataDirectory
        blueprintDirectory = string("blueprint.dir")
        // The blueprint names its flags; a blueprint that cannot be read is reported when the server loads it.
        if let blueprintDirectory, let declared = try? BlueprintLoader.load(directory: blueprintDirectory).flags {
            for name in declared.keys.sorted() {
                guard let text = string("flags." + name) else { continue }
                if let value = Bool(text.lowercased()) { flags[name] = value } else { keys.problem("flags.\(name) must be true or false") }
            }
        }
        webhookRetryMilliseconds = int("webhooks.retry_ms", webhookRetryMilliseconds, 10...3_600_000)
        jwtPrivateKey = string("auth.jwt_private_key", secret: true)
        if let level = string("log.level") {
            if let parsed = Logger.Level(rawValue: level.lowercased()) { logLevel = parsed }
            else { keys.problem("log.level must be one of trace, debug, info, notice, warning, error, critical") }
        }

        var accounts = AccountsSettings()
        if let mode = string("auth.mode") {
            if let parsed = AuthMode(rawValue: mode) { accounts.mode = parsed }
            else { keys.problem("auth.mode must be builtin or external, got '\(mode)'") }
        }
        accounts.bcryptCost = int("auth.bcrypt_cost", accounts.bcryptCost, 4...31)
        accounts.issuer = string("auth.issuer") ?? accounts.issuer
        accounts.audience = string("auth.audience") ?? accounts.audience
        accounts.accessTokenSeconds = int("auth.access_token_ttl_seconds", accounts.accessTokenSeconds, 30...86_400)
        accounts.sessionLifetimeSeconds = int("auth.session_lifetime_seconds", accounts.sessionLifetimeSeconds, 60...(400 * 86_400))
        accounts.sessionInactivitySeconds = int("auth.session_inactivity_seconds", accounts.sessionInactivitySeconds, 60...(400 * 86_400))
        accounts.sessionCacheMillis = int("auth.session_cache_ms", accounts.sessionCacheMillis, 0...3_600_000)
        accounts.maxFailures = int("auth.rate_limit.max_failures", accounts.maxFailures, 1...1_000_000)
        accounts.maxSignups = int("auth.rate_limit.max_signups", accounts.maxSignups, 1...1_000_000)
        accounts.throttleWindowSeconds = int("auth.rate_limit.window_seconds", accounts.throttleWindowSeconds, 1...86_400)
        if accounts.mode == .external {
            let jwksURL = string("auth.external.jwks_url")
            let issuer = string("auth.external.issuer")
            let audience = string("auth.external.audience")
            if jwksURL == nil { keys.problem("auth.external.jwks_url is required when auth.mode=external") }
            if issuer == nil { keys.problem("auth.external.issuer is required when auth.mode=external") }
            if audience == nil { keys.problem("auth.external.audience is required when auth.mode=external") }
            let allowed: Set<String> = ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA", "PS256", "PS384", "PS512"]
            var algorithms = Set(list("auth.external.algorithms"))
            if algorithms.isEmpty { algorithms = ["RS256", "ES256", "EdDSA"] }
            if !algorithms.isSubset(of: allowed) {
                keys.problem("auth.external.algorithms may hold only \(allowed.sorted().joined(separator: ", ")) (never none or HS*)")
            }
            if let jwksURL, let issuer, let audience {
                accounts.external = ExternalIdentitySettings(jwksURL: jwksURL, issuer: issuer, audience: audience, algorithms: algorithms)
            }
        }
        self.accounts = accounts
        readChat(keys)
        readIntegrations(keys)
        readPlans(keys)
        readMemory(keys)
        storageDirectory = string("storage.dir")
        readStorage(keys)
        if !keys.problems.isEmpty { throw SettingsError(problems: keys.problems) }
    }

    /// The providers in precedence order: flags, environment, `.env`, then what the blueprint served (the key
    /// `blueprint.dir`) configures (its tier matrix). Defaults are the values above.
    public static func reader(arguments: [String], environmentFile: String = ".env") async throws -> ConfigReader {
        let secret: SecretsSpecifier<String, String> = .dynamic { key, _ in
            ["KEY", "SECRET", "PASSWORD", "TOKEN", "DATABASE_URL"].contains { key.uppercased().contains($0) }
        }
        var providers: [any ConfigProvider] = [
            CommandLineArgumentsProvider(arguments: ["switchboard"] + arguments, secretsSpecifier: secret),
            EnvironmentVariablesProvider(secretsSpecifier: secret),
            try await EnvironmentVariablesProvider(environmentFilePath: .init(environmentFile), allowMissing: true, secretsSpecifier: secret),
        ]
        // A blueprint that cannot be read adds nothing here: start-up reports its problems when it loads it.
        if let directory = SettingsReader(ConfigReader(providers: providers)).string("blueprint.dir"),
           let configuration = try? BlueprintLoader.load(directory: directory).configuration, !configuration.isEmpty {
            var values: [AbsoluteConfigKey: ConfigValue] = [:]
            for (key, value) in configuration {
                values[AbsoluteConfigKey(SettingsReader.configKey(key).components)] = ConfigValue(.string(value), isSecret: false)
            }
            providers.append(InMemoryProvider(name: "blueprint", values: values))
        }
        return ConfigReader(providers: providers)
    }
}

public struct SettingsError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n") }
}
