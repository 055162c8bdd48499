import Foundation

/// A member's standing in a team. Owners do everything (delete the team, make owners); admins rename it, invite,
/// and manage members; members read the team and use what it owns.
public enum TeamRole: String, Sendable, CaseIterable, Comparable {
    case member, admin, owner

    var rank: Int {
        switch self {
        case .member: 0
        case .admin: 1
        case .owner: 2
        }
    }

    public static func < (lhs: TeamRole, rhs: TeamRole) -> Bool { lhs.rank < rhs.rank }
}

/// A team as one of its members sees it.
public struct Team: Sendable, Equatable {
    public let id: UUID
    public let name: String
    /// The caller's role in it.
    public let role: TeamRole
    public let memberCount: Int
    public let createdAt: Date
    public let updatedAt: Date
}

public struct TeamMember: Sendable, Equatable {
    public let userID: UUID
    public let email: String?
    public let name: String?
    public let role: TeamRole
    public let joinedAt: Date
}

/// An invitation to join a team, addressed to an email; the invitee accepts it once signed in with that email.
public struct TeamInvitation: Sendable, Equatable {
    public let id: UUID
    public let teamID: UUID
    public let teamName: String
    public let email: String
    public let role: TeamRole
    public let invitedBy: UUID?
    public let createdAt: Date
    public let expiresAt: Date
}
