import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import Storage

/// Accounts: signup, login, token refresh with rotation, logout, sessions, profile and password; and turning a
/// bearer token (Switchboard's own, or an external provider's) into an `Identity`.
public final class Accounts: Sendable {
    public let settings: AccountsSettings
    public let tokens: AccessTokens
    let users: UserStore
    let sessions: SessionStore
    let throttle: AuthThrottle
    public let apiKeys: ApiKeys
    let hasher: PasswordHasher
    /// Logins and signups hash passwords: a few at once per client address, and a bounded queue in all.
    let hashing = InFlightGate(perKey: 4, total: 64)
    let clock: WallClock
    let logger: Logger
    private let external: ExternalKeySet?

    public init(database: any Database, settings: AccountsSettings, signingKey: SigningKey, httpClient: HTTPClient = .shared,
                clock: WallClock = .system, logger: Logger) async {
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.users = UserStore(db: database)
        self.sessions = SessionStore(db: database, inactivityMillis: Int64(settings.sessionInactivitySeconds) * 1000,
                                     cacheMillis: Int64(settings.sessionCacheMillis))
        self.throttle = AuthThrottle(db: database, windowSeconds: settings.throttleWindowSeconds)
        self.apiKeys = ApiKeys(db: database, clock: clock)
        self.hasher = PasswordHasher(cost: settings.bcryptCost)
        self.tokens = await AccessTokens(signingKey: signingKey, issuer: settings.issuer, audience: settings.audience,
                                         ttlSeconds: settings.accessTokenSeconds, clock: clock)
        self.external = settings.mode == .external
            ? settings.external.map { ExternalKeySet(settings: $0, httpClient: httpClient, clock: clock) } : nil
    }

    // MARK: Authentication of requests

    /// The identity behind a bearer token, or 401 with the reason as its code.
    public func authenticate(bearer token: String) async throws -> Identity {
        if token.hasPrefix(ApiKeys.tokenPrefix) { return try await apiKeys.authenticate(token) }
        if let external {
            let claims = try await external.verify(token)
            guard let subject = claims.sub?.value else { throw AppError.unauthorized("invalid_token", "The token has no subject.") }
            let user = try await externalUser(subject: subject, email: claims.email)
            return Identity(user: user, sessionID: nil)
        }
        let grant: AccessGrant
        if let verified = try tokens.verifiedBefore(token) {
            grant = verified
        } else {
            grant = try await tokens.verify(token)
        }
        guard let identity = try await sessions.identity(of: grant, now: clock.now) else {
            throw AppError.unauthorized("session_revoked", "The session of this token has ended; log in again.")
        }
        return identity
    }

    /// The user for an external subject, created on first sight. A subject that is a UUID (as Supabase's are)
    /// becomes the user's id, so the app's frontend and this server name the user alike.
    private func externalUser(subject: String, email: String?) async throws -> User {
        if let user = try await users.findExternal(subject: subject) { return user }
        let normalized = email.flatMap(Credentials.normalizedEmail)
        let id = UUID.parse(subject) ?? UUID.random()
        if let user = try await users.create(id: id, email: normalized, passwordHash: nil, name: nil, tier: settings.defaultTier,
                                             externalSubject: subject, now: clock.now) {
            return user
        }
        // A concurrent first request created it, or the email is already used by another account: then keep the
        // subject and leave the email out rather than link two identities on an unverified claim. An id already
        // taken by another account (never by this subject) is not shared either: a new one is given.
        if let user = try await users.findExternal(subject: subject) { return user }
        for id in [id, UUID.random()] {
            if let user = try await users.create(id: id, email: nil, passwordHash: nil, name: nil, tier: settings.defaultTier,
                                                 externalSubject: subject, now: clock.now) {
                return user
            }
            if let user = try await users.findExternal(subject: subject) { return user }
        }
        throw AppError.unauthorized()
    }

    // MARK: Built-in accounts

    private func requireBuiltin() throws {
        guard settings.mode == .builtin else {
            throw AppError(status: 404, code: "not_found", title: "Not found",
                           detail: "Built-in accounts are disabled: this server uses an external identity provider.")
        }
    }

    public func signup(email rawEmail: String, password: String, name rawName: String?, client: ClientInfo) async throws -> TokenPair {
        try requireBuiltin()
        return try await hashing.run(client.address) {
            try await admitSignup(email: rawEmail, password: password, name: rawName, client: client)
        }
    }

    private func admitSignup(email rawEmail: String, password: String, name rawName: String?, client: ClientInfo) async throws -> TokenPair {
        let now = clock.now
        let addressBucket = AuthThrottle.address(client, "signup")
        try await throttle.check([addressBucket], limit: settings.maxSignups, now: now)
        try await throttle.record([addressBucket], now: now)
        var errors = [Credentials.emailError(rawEmail), Credentials.passwordError(password)].compactMap { $0 }
        var name: String?
        do { name = try Credentials.normalizedName(rawName) } catch let error as AppError { errors += error.fieldErrors }
        guard errors.isEmpty, let email = Credentials.normalizedEmail(rawEmail) else { throw AppError.validation(errors) }

        let hash = try await hasher.hash(password)
        guard let user = try await users.create(email: email, passwordHash: hash, name: name, tier: settings.defaultTier, now: now) else {
            throw AppError.conflict("email_taken", "An account with this email already exists.")
        }
        logger.info("user signed up", metadata: ["user_id": "\(user.id.lowercased)"])
        return try await startSession(user: user, client: client)
    }

    public func login(email rawEmail: String, password: String, client: ClientInfo) async throws -> TokenPair {
        try requireBuiltin()
        return try await hashing.run(client.address) {
            try await admitLogin(email: rawEmail, password: password, client: client)
        }
    }

    private func admitLogin(email rawEmail: String, password: String, client: ClientInfo) async throws -> TokenPair {
        let now = clock.now
        // Not an address: no account can have it, and it is not kept (it may be a megabyte of anything).
        let email = Credentials.normalizedEmail(rawEmail)
        let buckets = [AuthThrottle.address(client, "login")] + (email.map { [AuthThrottle.account($0, "login")] } ?? [])
        try await throttle.check(buckets, limit: settings.maxFailures, now: now)

        let found: (User, String?)? = if let email { try await users.findForLogin(email: email) } else { nil }
        let verified: Bool
        if let (_, hash) = found, let hash {
            verified = try await hasher.verify(password, hash: hash)
        } else {
            // Same work for an unknown email as for a wrong password: the response time tells nothing.
            try await hasher.verifyDummy(password)
            verified = false
        }
        guard verified, let (user, _) = found else {
            try await throttle.record(buckets, now: now)
            throw AppError.invalidCredentials
        }
        if let email { try await throttle.clear(AuthThrottle.account(email, "login")) }
        return try await startSession(user: user, client: client)
    }

    public func refresh(refreshToken: String, client: ClientInfo) async throws -> TokenPair {
        try requireBuiltin()
        let newToken = Self.newRefreshToken()
        let rotation = try await sessions.rotate(oldHash: sha256Hex(refreshToken), newHash: sha256Hex(newToken), now: clock.now)
        switch rotation {
        case .invalid:
            throw AppError.unauthorized("invalid_refresh_token", "The refresh token is invalid or its session has ended.")
        case .reused:
            logger.warning("refresh token reused: session revoked")
            throw AppError.unauthorized("refresh_token_reused",
                                        "This refresh token was already used; the session has been revoked. Log in again.")
        case .rotated(let session):
            guard let user = try await users.find(id: session.userID) else { throw AppError.unauthorized() }
            return try await tokenPair(user: user, sessionID: session.id, refreshToken: newToken)
        }
    }

    public func logout(_ identity: Identity, scope: LogoutScope) async throws {
        try requireBuiltin()
        guard let sessionID = identity.sessionID else { throw AppError.unauthorized() }
        let now = clock.now
        switch scope {
        case .local:
            _ = try await sessions.revoke(sessionID: sessionID, userID: identity.user.id, reason: "logout", now: now)
        case .global:
            try await sessions.revokeAll(userID: identity.user.id, except: nil, reason: "logout_global", now: now)
        case .others:
            try await sessions.revokeAll(userID: identity.user.id, except: sessionID, reason: "logout_others", now: now)
        }
    }

    public func listSessions(_ identity: Identity, page: PageRequest) async throws -> Page<Session> {
        try requireBuiltin()
        return try await sessions.list(userID: identity.user.id, page: page, now: clock.now)
    }

    /// 404 when the session is not the caller's: another user's session id reveals nothing.
    public func revokeSession(_ identity: Identity, sessionID: UUID) async throws {
        try requireBuiltin()
        guard try await sessions.revoke(sessionID: sessionID, userID: identity.user.id, reason: "revoked", now: clock.now) else {
            throw AppError.notFound("session")
        }
    }

    public func updateProfile(_ identity: Identity, name rawName: String?) async throws -> User {
        let name = try Credentials.normalizedName(rawName)
        guard let user = try await users.updateName(userID: identity.user.id, name: name, now: clock.now) else {
            throw AppError.notFound("user")
        }
        return user
    }

    /// Changes the password and ends every other session of the user.
    public func changePassword(_ identity: Identity, current: String, new: String) async throws {
        try requireBuiltin()
        if let error = Credentials.passwordError(new, field: "new_password") { throw AppError.validation([error]) }
        let now = clock.now
        let bucket = "change_password:account:\(identity.user.id.lowercased)"
        try await throttle.check([bucket], limit: settings.maxFailures, now: now)
        guard let hash = try await users.passwordHash(userID: identity.user.id),
              try await hasher.verify(current, hash: hash) else {
            try await throttle.record([bucket], now: now)
            throw AppError(status: 400, code: "invalid_current_password", title: "Bad request",
                           detail: "The current password is incorrect.",
                           fieldErrors: [FieldError(field: "current_password", code: "incorrect", message: "is incorrect")])
        }
        try await users.setPassword(userID: identity.user.id, hash: try await hasher.hash(new), now: now)
        try await sessions.revokeAll(userID: identity.user.id, except: identity.sessionID, reason: "password_changed", now: now)
    }

    /// The user with this email, if any (admin commands).
    /// The user as stored now (tier and role included).
    public func user(id: UUID) async throws -> User? {
        try await users.find(id: id)
    }

    public func user(email: String) async throws -> User? {
        guard let email = Credentials.normalizedEmail(email) else { return nil }
        return try await users.findForLogin(email: email)?.0
    }

    /// Grants or takes back the admin role (`switchboard users grant-admin` / `revoke-admin`); false when no user
    /// has this email.
    public func setAdmin(email: String, _ admin: Bool) async throws -> Bool {
        guard let email = Credentials.normalizedEmail(email) else { return false }
        return try await users.setRole(email: email, role: admin ? "admin" : "user", now: clock.now)
    }

    /// Moves a user to another tier (`switchboard users set-tier`, for support and tests); it applies from their next
    /// request, as every tier gate reads the tier from the database. False when no user has this email.
    public func setTier(email: String, tier: String) async throws -> Bool {
        guard settings.tiers.contains(tier) else {
            throw AppError.validation([FieldError(field: "tier", code: "unknown_tier", message: "must be one of \(settings.tiers.joined(separator: ", "))")])
        }
        guard let email = Credentials.normalizedEmail(email) else { return false }
        return try await users.setTier(email: email, tier: tier, now: clock.now)
    }

    /// Admin creation (`switchboard users create`): no throttling, any tier from the list.
    public func createUser(email rawEmail: String, password: String, name: String?, tier: String) async throws -> User {
        var errors = [Credentials.emailError(rawEmail), Credentials.passwordError(password)].compactMap { $0 }
        if !settings.tiers.contains(tier) {
            errors.append(FieldError(field: "tier", code: "unknown_tier", message: "must be one of \(settings.tiers.joined(separator: ", "))"))
        }
        guard errors.isEmpty, let email = Credentials.normalizedEmail(rawEmail) else { throw AppError.validation(errors) }
        let hash = try await hasher.hash(password)
        guard let user = try await users.create(email: email, passwordHash: hash, name: try Credentials.normalizedName(name),
                                                tier: tier, now: clock.now) else {
            throw AppError.conflict("email_taken", "An account with this email already exists.")
        }
        return user
    }

    // MARK: Tokens

    private func startSession(user: User, client: ClientInfo) async throws -> TokenPair {
        let refreshToken = Self.newRefreshToken()
        let session = try await sessions.create(userID: user.id, refreshTokenHash: sha256Hex(refreshToken),
                                                lifetime: TimeInterval(settings.sessionLifetimeSeconds), client: client, now: clock.now)
        return try await tokenPair(user: user, sessionID: session.id, refreshToken: refreshToken)
    }

    private func tokenPair(user: User, sessionID: UUID, refreshToken: String) async throws -> TokenPair {
        let (accessToken, expiresAt) = try await tokens.issue(userID: user.id, sessionID: sessionID)
        return TokenPair(accessToken: accessToken, refreshToken: refreshToken,
                         expiresIn: max(0, Int(expiresAt.timeIntervalSince(clock.now).rounded())), expiresAt: expiresAt, user: user)
    }

    /// Opaque, 256 bits of randomness, with a prefix so that it is recognisable (and never parses as a JWT).
    static func newRefreshToken() -> String { "sbr_" + Random.token(bytes: 32) }
}
