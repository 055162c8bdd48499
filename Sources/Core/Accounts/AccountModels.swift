import Foundation

public struct User: Sendable, Equatable {
    public let id: UUID
    public let email: String?
    public let name: String?
    public let tier: String
    public let createdAt: Date
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

/// Who is calling. `sessionID` is nil for identities from an external identity provider.
public struct Identity: Sendable, Equatable {
    public let user: User
    public let sessionID: UUID?
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

/// The plans a user can be on. Tiers, limits and quotas get their own feature; this is the list it starts from.
public enum Tiers {
    public static let all = ["free", "pro", "power", "team"]
    public static let `default` = "free"
}
