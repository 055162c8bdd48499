import Foundation

public enum AuthMode: String, Sendable {
    /// Switchboard's own accounts: signup, login, sessions, refresh tokens.
    case builtin
    /// Tokens from an external identity provider (Supabase, Auth0, ...), validated against its JWKS.
    case external
}

public struct ExternalIdentitySettings: Sendable {
    public var jwksURL: String
    public var issuer: String
    public var audience: String
    public var algorithms: Set<String>
    /// How long fetched keys are trusted before they are fetched again.
    public var jwksCacheSeconds: Double
    /// The least time between two fetches caused by unknown `kid`s, so random kids cannot hammer the provider.
    public var jwksMinRefreshSeconds: Double

    public init(jwksURL: String, issuer: String, audience: String, algorithms: Set<String> = ["RS256", "ES256", "EdDSA"],
                jwksCacheSeconds: Double = 600, jwksMinRefreshSeconds: Double = 30) {
        self.jwksURL = jwksURL
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.jwksCacheSeconds = jwksCacheSeconds
        self.jwksMinRefreshSeconds = jwksMinRefreshSeconds
    }
}

public struct AccountsSettings: Sendable {
    public var mode: AuthMode = .builtin
    public var bcryptCost: Int = 12
    public var issuer: String = "switchboard"
    public var audience: String = "switchboard"
    public var accessTokenSeconds: Int = 900
    /// A session ends this long after login, however active.
    public var sessionLifetimeSeconds: Int = 30 * 24 * 3600
    /// A session ends when it has not been refreshed for this long.
    public var sessionInactivitySeconds: Int = 7 * 24 * 3600
    /// On SQLite, how long a session check answered from memory may be reused while no Switchboard process has
    /// changed the session or its user (`SessionCache`): the longest an edit made outside Switchboard takes to be
    /// seen. 0 reads the session from the database on every request.
    public var sessionCacheMillis: Int = 1_000
    /// Failed logins (and signups) allowed per client address and per account within the window.
    public var maxFailures: Int = 10
    /// Signup attempts allowed per client address within the window, successful or not.
    public var maxSignups: Int = 10
    public var throttleWindowSeconds: Int = 300
    public var external: ExternalIdentitySettings?
    /// The tiers users can be on, and the one new users start on (from the feature matrix).
    public var tiers: [String] = Plans.standard.order
    public var defaultTier: String = Plans.standard.defaultTier

    public init() {}
}
