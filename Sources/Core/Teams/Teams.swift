import Foundation
import SQLKit
import Storage

/// Teams, their members and invitations. Everything here is seen through the caller's membership: a team the caller
/// is not in answers 404 whatever the operation, so team ids tell outsiders nothing; a member without the role an
/// operation needs gets 403 `team_role_required`.
///
/// Changes to a team's members run in a transaction that first locks the team's row (PostgreSQL; SQLite writes one
/// transaction at a time anyway), so two owners demoting each other at once cannot leave a team without an owner.
public struct Teams: Sendable {
    public static let maxTeamsPerUser = 100
    public static let maxMembers = 1_000
    public static let maxPendingInvitations = 100
    public static let invitationLifetime: TimeInterval = 7 * 86_400

    let db: any Database
    let clock: WallClock

    public init(db: any Database, clock: WallClock) {
        self.db = db
        self.clock = clock
    }

    static let teamColumns = """
        t.id, t.name, m.role, t.created_at, t.updated_at, (SELECT COUNT(*) FROM team_members c WHERE c.team_id = t.id) AS member_count
        """

    static func team(from row: any SQLRow) throws -> Team {
        Team(id: try uuid(row, "id"), name: try row.decode(column: "name", as: String.self), role: try role(row),
             memberCount: Int(try row.decode(column: "member_count", as: Int64.self)),
             createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
             updatedAt: Date(millis: try row.decode(column: "updated_at", as: Int64.self)))
    }

    static func role(_ row: any SQLRow) throws -> TeamRole {
        TeamRole(rawValue: try row.decode(column: "role", as: String.self)) ?? .member
    }

    // MARK: Teams

    public func create(name rawName: String, userID: UUID) async throws -> Team {
        let name = try Self.name(rawName)
        let id = UUID.random()
        let now = clock.now.millis
        let user = userID.lowercased
        try await db.transaction { sql in
            let joined = try await sql.raw("SELECT COUNT(*) AS n FROM team_members WHERE user_id = \(bind: user)").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            guard joined < Self.maxTeamsPerUser else {
                throw AppError.conflict("too_many_teams", "A user belongs to at most \(Self.maxTeamsPerUser) teams.")
            }
            try await sql.raw("INSERT INTO teams (id, name, created_at, updated_at) VALUES (\(bind: id.lowercased), \(bind: name), \(bind: now), \(bind: now))").run()
            try await sql.raw("""
                INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES (\(bind: id.lowercased), \(bind: user), 'owner', \(bind: now))
                """).run()
        }
        return Team(id: id, name: name, role: .owner, memberCount: 1, createdAt: Date(millis: now), updatedAt: Date(millis: now))
    }

    public func list(userID: UUID, page: PageRequest) async throws -> Page<Team> {
        let total = try await db.first("SELECT COUNT(*) AS n FROM team_members WHERE user_id = \(bind: userID.lowercased)")?
            .decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.teamColumns) FROM team_members m JOIN teams t ON t.id = m.team_id
            WHERE m.user_id = \(bind: userID.lowercased) ORDER BY t.name, t.id LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.team(from:)), total: total, request: page)
    }

    public func get(_ id: UUID, userID: UUID) async throws -> Team {
        try await team(id, userID: userID, on: db.sql)
    }

    func team(_ id: UUID, userID: UUID, on sql: any SQLDatabase) async throws -> Team {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: Self.teamColumns) FROM team_members m JOIN teams t ON t.id = m.team_id
            WHERE m.team_id = \(bind: id.lowercased) AND m.user_id = \(bind: userID.lowercased)
            """).first() else { throw AppError.notFound("team") }
        return try Self.team(from: row)
    }

    public func rename(_ id: UUID, name rawName: String, userID: UUID) async throws -> Team {
        let name = try Self.name(rawName)
        let now = clock.now.millis
        return try await changing(id, userID: userID, requires: .admin) { sql, _ in
            try await sql.raw("UPDATE teams SET name = \(bind: name), updated_at = \(bind: now) WHERE id = \(bind: id.lowercased)").run()
            return try await self.team(id, userID: userID, on: sql)
        }
    }

    /// Deletes the team; its memberships, invitations and team-owned records go with it (foreign keys cascade).
    public func delete(_ id: UUID, userID: UUID) async throws {
        try await changing(id, userID: userID, requires: .owner) { sql, _ in
            try await sql.raw("DELETE FROM teams WHERE id = \(bind: id.lowercased)").run()
        }
    }

    /// The ids of the teams `userID` belongs to.
    public func teamIDs(of userID: String) async throws -> Set<String> {
        let rows = try await db.all("SELECT team_id FROM team_members WHERE user_id = \(bind: userID)")
        return Set(try rows.map { try $0.decode(column: "team_id", as: String.self) })
    }

    // MARK: Members

    public func members(_ id: UUID, userID: UUID, page: PageRequest) async throws -> Page<TeamMember> {
        _ = try await role(in: id, of: userID, on: db.sql, missing: "team")
        let total = try await db.first("SELECT COUNT(*) AS n FROM team_members WHERE team_id = \(bind: id.lowercased)")?
            .decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT m.user_id, m.role, m.joined_at, u.email, u.name FROM team_members m JOIN users u ON u.id = m.user_id
            WHERE m.team_id = \(bind: id.lowercased) ORDER BY m.joined_at, m.user_id
            LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.member(from:)), total: total, request: page)
    }

    static func member(from row: any SQLRow) throws -> TeamMember {
        TeamMember(userID: try uuid(row, "user_id"), email: try row.decodeNil(column: "email") ? nil : row.decode(column: "email", as: String.self),
                   name: try row.decodeNil(column: "name") ? nil : row.decode(column: "name", as: String.self), role: try role(row),
                   joinedAt: Date(millis: try row.decode(column: "joined_at", as: Int64.self)))
    }

    /// Owners set any role; admins move non-owners between member and admin. A team keeps at least one owner.
    public func setRole(_ id: UUID, member memberID: UUID, to role: TeamRole, userID: UUID) async throws -> TeamMember {
        try await changing(id, userID: userID, requires: .admin) { sql, callerRole in
            let current = try await self.role(in: id, of: memberID, on: sql)
            if callerRole != .owner, current == .owner || role == .owner {
                throw Self.roleRequired(.owner, "change an owner's role or make an owner")
            }
            if current == .owner, role != .owner { try await self.requireAnotherOwner(id, on: sql) }
            try await sql.raw("""
                UPDATE team_members SET role = \(bind: role.rawValue) WHERE team_id = \(bind: id.lowercased) AND user_id = \(bind: memberID.lowercased)
                """).run()
            guard let row = try await sql.raw("""
                SELECT m.user_id, m.role, m.joined_at, u.email, u.name FROM team_members m JOIN users u ON u.id = m.user_id
                WHERE m.team_id = \(bind: id.lowercased) AND m.user_id = \(bind: memberID.lowercased)
                """).first() else { throw AppError.notFound("member") }
            return try Self.member(from: row)
        }
    }

    /// Removes a member. Anyone may leave; owners remove anyone, admins remove members; the last owner stays.
    public func remove(_ id: UUID, member memberID: UUID, userID: UUID) async throws {
        try await changing(id, userID: userID, requires: .member) { sql, callerRole in
            let current = try await self.role(in: id, of: memberID, on: sql)
            if memberID != userID {
                if callerRole == .member { throw Self.roleRequired(.admin, "remove members") }
                if callerRole == .admin, current != .member { throw Self.roleRequired(.owner, "remove admins and owners") }
            }
            if current == .owner { try await self.requireAnotherOwner(id, on: sql) }
            try await sql.raw("DELETE FROM team_members WHERE team_id = \(bind: id.lowercased) AND user_id = \(bind: memberID.lowercased)").run()
        }
    }

    /// A member's role in the team; 404 naming `missing` when they are not in it (the team itself, for the caller).
    private func role(in id: UUID, of userID: UUID, on sql: any SQLDatabase, missing: String = "member") async throws -> TeamRole {
        guard let row = try await sql.raw("""
            SELECT role FROM team_members WHERE team_id = \(bind: id.lowercased) AND user_id = \(bind: userID.lowercased)
            """).first() else { throw AppError.notFound(missing) }
        return try Self.role(row)
    }

    private func requireAnotherOwner(_ id: UUID, on sql: any SQLDatabase) async throws {
        let owners = try await sql.raw("SELECT COUNT(*) AS n FROM team_members WHERE team_id = \(bind: id.lowercased) AND role = 'owner'").first()?
            .decode(column: "n", as: Int64.self) ?? 0
        guard owners > 1 else {
            throw AppError.conflict("last_owner", "A team keeps at least one owner: make another member owner first, or delete the team.")
        }
    }

    // MARK: Invitations

    public func invite(_ id: UUID, email rawEmail: String, role: TeamRole, userID: UUID) async throws -> TeamInvitation {
        guard let email = Credentials.normalizedEmail(rawEmail) else {
            throw AppError.validation([FieldError(field: "email", code: "invalid_email", message: "not a valid email address")])
        }
        guard role != .owner else {
            throw AppError.validation([FieldError(field: "role", code: "invalid_role", message: "must be admin or member; make owners from members")])
        }
        let now = clock.now
        let invitation = UUID.random()
        return try await changing(id, userID: userID, requires: .admin) { sql, _ in
            let team = id.lowercased
            let member = try await sql.raw("""
                SELECT 1 AS found FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = \(bind: team) AND u.email = \(bind: email)
                """).first()
            if member != nil { throw AppError.conflict("already_member", "\(email) is already a member of this team.") }
            try await sql.raw("DELETE FROM team_invitations WHERE team_id = \(bind: team) AND expires_at <= \(bind: now.millis)").run()
            let pending = try await sql.raw("SELECT email FROM team_invitations WHERE team_id = \(bind: team)").all()
                .map { try $0.decode(column: "email", as: String.self) }
            if pending.contains(email) { throw AppError.conflict("already_invited", "\(email) already has a pending invitation to this team.") }
            guard pending.count < Self.maxPendingInvitations else {
                throw AppError.conflict("too_many_invitations", "A team holds at most \(Self.maxPendingInvitations) pending invitations.")
            }
            let expires = now.addingTimeInterval(Self.invitationLifetime)
            try await sql.raw("""
                INSERT INTO team_invitations (id, team_id, email, role, invited_by, created_at, expires_at)
                VALUES (\(bind: invitation.lowercased), \(bind: team), \(bind: email), \(bind: role.rawValue), \(bind: userID.lowercased),
                        \(bind: now.millis), \(bind: expires.millis))
                """).run()
            let name = try await sql.raw("SELECT name FROM teams WHERE id = \(bind: team)").first()?.decode(column: "name", as: String.self) ?? ""
            return TeamInvitation(id: invitation, teamID: id, teamName: name, email: email, role: role, invitedBy: userID,
                                  createdAt: Date(millis: now.millis), expiresAt: Date(millis: expires.millis))
        }
    }

    static let invitationColumns = "i.id, i.team_id, t.name AS team_name, i.email, i.role, i.invited_by, i.created_at, i.expires_at"

    static func invitation(from row: any SQLRow) throws -> TeamInvitation {
        TeamInvitation(id: try uuid(row, "id"), teamID: try uuid(row, "team_id"), teamName: try row.decode(column: "team_name", as: String.self),
                       email: try row.decode(column: "email", as: String.self), role: try role(row),
                       invitedBy: try row.decodeNil(column: "invited_by") ? nil : try uuid(row, "invited_by"),
                       createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
                       expiresAt: Date(millis: try row.decode(column: "expires_at", as: Int64.self)))
    }

    /// A team's pending invitations (owners and admins).
    public func invitations(_ id: UUID, userID: UUID, page: PageRequest) async throws -> Page<TeamInvitation> {
        guard try await role(in: id, of: userID, on: db.sql, missing: "team") >= .admin else { throw Self.roleRequired(.admin, "see invitations") }
        return try await invitations(where: "i.team_id = \(bind: id.lowercased)", page: page)
    }

    /// Pending invitations addressed to `email` (the caller's).
    public func invitations(for email: String?, page: PageRequest) async throws -> Page<TeamInvitation> {
        guard let email = email.flatMap(Credentials.normalizedEmail) else { return Page(items: [], total: 0, request: page) }
        return try await invitations(where: "i.email = \(bind: email)", page: page)
    }

    private func invitations(where condition: SQLQueryString, page: PageRequest) async throws -> Page<TeamInvitation> {
        let pending = condition + " AND i.expires_at > \(bind: clock.now.millis)"
        let total = try await db.first("SELECT COUNT(*) AS n FROM team_invitations i WHERE " + pending)?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("SELECT \(unsafeRaw: Self.invitationColumns) FROM team_invitations i JOIN teams t ON t.id = i.team_id WHERE "
            + pending + " ORDER BY i.created_at DESC, i.id LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)")
        return Page(items: try rows.map(Self.invitation(from:)), total: total, request: page)
    }

    public func revoke(_ id: UUID, invitation: UUID, userID: UUID) async throws {
        try await changing(id, userID: userID, requires: .admin) { sql, _ in
            let deleted = try await sql.raw("""
                DELETE FROM team_invitations WHERE id = \(bind: invitation.lowercased) AND team_id = \(bind: id.lowercased) RETURNING id
                """).first()
            guard deleted != nil else { throw AppError.notFound("invitation") }
        }
    }

    /// Joins the team of a pending invitation addressed to the user's email; 404 for any other.
    public func accept(_ invitation: UUID, user: User) async throws -> Team {
        let now = clock.now.millis
        return try await db.transaction { sql in
            let found = try await self.pending(invitation, user: user, on: sql)
            let teamID = try uuid(found, "team_id")
            let team = teamID.lowercased
            try await self.lock(team, on: sql)
            let members = try await sql.raw("SELECT COUNT(*) AS n FROM team_members WHERE team_id = \(bind: team)").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            guard members < Self.maxMembers else { throw AppError.conflict("team_full", "A team holds at most \(Self.maxMembers) members.") }
            let joined = try await sql.raw("SELECT COUNT(*) AS n FROM team_members WHERE user_id = \(bind: user.id.lowercased)").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            guard joined < Self.maxTeamsPerUser else {
                throw AppError.conflict("too_many_teams", "A user belongs to at most \(Self.maxTeamsPerUser) teams.")
            }
            try await sql.raw("""
                INSERT INTO team_members (team_id, user_id, role, joined_at)
                VALUES (\(bind: team), \(bind: user.id.lowercased), \(bind: try found.decode(column: "role", as: String.self)), \(bind: now))
                ON CONFLICT (team_id, user_id) DO NOTHING
                """).run()
            try await sql.raw("DELETE FROM team_invitations WHERE id = \(bind: invitation.lowercased)").run()
            return try await self.team(teamID, userID: user.id, on: sql)
        }
    }

    public func decline(_ invitation: UUID, user: User) async throws {
        try await db.transaction { sql in
            _ = try await self.pending(invitation, user: user, on: sql)
            try await sql.raw("DELETE FROM team_invitations WHERE id = \(bind: invitation.lowercased)").run()
        }
    }

    private func pending(_ invitation: UUID, user: User, on sql: any SQLDatabase) async throws -> any SQLRow {
        guard let email = user.email.flatMap(Credentials.normalizedEmail),
              let row = try await sql.raw("""
                  SELECT team_id, role FROM team_invitations
                  WHERE id = \(bind: invitation.lowercased) AND email = \(bind: email) AND expires_at > \(bind: clock.now.millis)
                  """).first() else { throw AppError.notFound("invitation") }
        return row
    }

    // MARK: Helpers

    /// Runs `body` in a transaction holding the team's row, once the caller is known to be a member with `role` or
    /// more; `body` gets the caller's role.
    private func changing<T: Sendable>(_ id: UUID, userID: UUID, requires role: TeamRole,
                                       _ body: @escaping @Sendable (any SQLDatabase, TeamRole) async throws -> T) async throws -> T {
        try await db.transaction { sql in
            try await self.lock(id.lowercased, on: sql)
            let callerRole = try await self.role(in: id, of: userID, on: sql, missing: "team")
            guard callerRole >= role else { throw Self.roleRequired(role, "do this") }
            return try await body(sql, callerRole)
        }
    }

    /// Holds the team's row until the transaction ends (PostgreSQL); SQLite runs one write transaction at a time.
    private func lock(_ team: String, on sql: any SQLDatabase) async throws {
        guard db.engine == .postgres else { return }
        _ = try await sql.raw("SELECT id FROM teams WHERE id = \(bind: team) FOR UPDATE").first()
    }

    static func roleRequired(_ role: TeamRole, _ what: String) -> AppError {
        AppError(status: 403, code: "team_role_required", title: "Forbidden", detail: "Only a team's \(role == .owner ? "owners" : "owners and admins") may \(what).")
    }

    static func name(_ raw: String) throws -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // Counted as the contract's maxLength counts: Unicode scalars, before trimming.
        guard !name.isEmpty, raw.unicodeScalars.count <= 100, !name.containsControlCharacters else {
            throw AppError.validation([FieldError(field: "name", code: "invalid_name", message: "must be 1 to 100 characters, no control characters")])
        }
        return name
    }
}
