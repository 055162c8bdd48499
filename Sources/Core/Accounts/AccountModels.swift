import Foundation

public struct User: Sendable, Equatable {
    public let id: UUID
    public let email: String?
    public let name: String?
    /// Read with every request (from the database, or `SessionCache` while nothing has changed): a change of plan
    /// applies to the next request.
    public let tier: String
    /// Seats of a per-seat tier (team).
    public let seats: Int
    /// `user`, or `admin` (granted by `switchboard users grant-admin`): admins write shared blueprint collections.
    public let role: String
    public let createdAt: Date

    public init(id: UUID, email: String?, name: String?, tier: String, seats: Int = 1, role: String = "user", createdAt: Date) {
        self.id = id
        self.email = email
        self.name = name
        self.tier = tier
        self.seats = seats
        self.role = role
        self.createdAt = createdAt
    }

    public var isAdmin: Bool { role == "admin" }
}

/// A login: one chain of refresh tokens and the access tokens minted from it.
public struct Session: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public let createdAt: Date
    public let refreshedAt: Date
    public let expiresAt: Date
    public let userAgent: String?
    public let ipAddress: String?
}

/// Who is calling. `sessionID` is nil for identities from an external identity provider and for API keys; `scopes`
/// is set for API keys only (a session may do everything its user may).
///
/// A class, immutable: a request hands its identity on several times (its scope, the rate limit, the handler), and
/// each copy of a struct retained and released every string of the user (20 retains a `/me`).
public final class Identity: Sendable, Equatable {
    public let user: User
    public let sessionID: UUID?
    public let apiKeyID: UUID?
    public let scopes: Set<String>?

    public init(user: User, sessionID: UUID?, apiKeyID: UUID? = nil, scopes: Set<String>? = nil) {
        self.user = user
        self.sessionID = sessionID
        self.apiKeyID = apiKeyID
        self.scopes = scopes
    }

    public static func == (lhs: Identity, rhs: Identity) -> Bool {
        lhs.user == rhs.user && lhs.sessionID == rhs.sessionID && lhs.apiKeyID == rhs.apiKeyID && lhs.scopes == rhs.scopes
    }
}

public struct TokenPair: Sendable {
    public let accessToken: String
    public let refreshToken: String
    /// Seconds until the access token expires.
    public let expiresIn: Int
    public let expiresAt: Date
    public let user: User
}

/// What the transport knows about the caller, recorded on sessions and used for throttling.
public struct ClientInfo: Sendable {
    public let address: String
    public let userAgent: String?

    public init(address: String, userAgent: String?) {
        self.address = address
        self.userAgent = userAgent.map { String($0.prefix(512)) }
    }
}

public enum LogoutScope: String, Sendable {
    /// This session only.
    case local
    /// Every session of the user.
    case global
    /// Every session but this one.
    case others
}
