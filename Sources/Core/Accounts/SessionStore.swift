import Foundation
import SQLKit
import Storage

/// The `sessions` and `refresh_tokens` tables. A session is valid while it is not revoked, younger than its
/// absolute expiry, and refreshed recently enough; its refresh tokens form one rotating chain.
struct SessionStore: Sendable {
    let db: any Database
    let inactivityMillis: Int64
    /// Identities read before and unchanged since; nil on PostgreSQL, and when `cacheMillis` is 0.
    private let cache: SessionCache?

    init(db: any Database, inactivityMillis: Int64, cacheMillis: Int64) {
        self.db = db
        self.inactivityMillis = inactivityMillis
        self.cache = cacheMillis > 0 ? SessionCache(database: db, maxAgeMillis: cacheMillis) : nil
    }

    static let columns = "s.id, s.user_id, s.created_at, s.refreshed_at, s.expires_at, s.user_agent, s.ip_address"

    static func session(from row: any SQLRow) throws -> Session {
        Session(
            id: try uuid(row, "id"),
            userID: try uuid(row, "user_id"),
            createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
            refreshedAt: Date(millis: try row.decode(column: "refreshed_at", as: Int64.self)),
            expiresAt: Date(millis: try row.decode(column: "expires_at", as: Int64.self)),
            userAgent: try row.decodeNil(column: "user_agent") ? nil : row.decode(column: "user_agent", as: String.self),
            ipAddress: try row.decodeNil(column: "ip_address") ? nil : row.decode(column: "ip_address", as: String.self)
        )
    }

    /// SQL that is true for a live session `s` at `now`.
    private func live(_ now: Date) -> SQLQueryString {
        "\(Self.liveCondition(now.millis, now.millis - inactivityMillis))"
    }

    /// `live`'s condition: binds `now`, then the oldest refresh that keeps a session alive.
    private static let liveCondition = FixedStatement.Text(
        "s.revoked_at IS NULL AND s.expires_at > ? AND s.refreshed_at > ?")

    func create(userID: UUID, refreshTokenHash: String, lifetime: TimeInterval, client: ClientInfo, now: Date) async throws -> Session {
        let session = Session(id: UUID.random(), userID: userID, createdAt: now, refreshedAt: now,
                              expiresAt: now.addingTimeInterval(lifetime), userAgent: client.userAgent, ipAddress: client.address)
        try await db.transaction { sql in
            try await sql.raw("""
                INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, user_agent, ip_address)
                VALUES (\(bind: session.id.lowercased), \(bind: userID.lowercased), \(bind: now.millis), \(bind: now.millis),
                        \(bind: session.expiresAt.millis), \(bind: session.userAgent), \(bind: session.ipAddress))
                """).run()
            try await sql.raw("""
                INSERT INTO refresh_tokens (id, session_id, token_hash, parent_id, created_at)
                VALUES (\(bind: UUID.random().lowercased), \(bind: session.id.lowercased), \(bind: refreshTokenHash), NULL, \(bind: now.millis))
                """).run()
        }
        return session
    }

    /// The identity of a live session, in one query or from the cache: this runs on every authenticated request.
    func identity(of grant: AccessGrant, now: Date) async throws -> Identity? {
        let (millis, oldestRefresh) = (now.millis, now.millis - inactivityMillis)
        if let identity = cache?.identity(session: grant.sessionID, user: grant.userID, now: millis, oldestRefresh: oldestRefresh) {
            return identity
        }
        let version = cache?.currentVersion()
        guard let row = try await db.first(Self.identityQuery(grant.sessionIDText, grant.userIDText, millis, oldestRefresh)) else {
            return nil
        }
        let identity = Identity(user: try UserStore.user(from: row, id: grant.userID), sessionID: grant.sessionID)
        if let cache, let version {
            cache.keep(identity, session: grant.sessionID, expiresAt: try row.decode(column: "session_expires_at", as: Int64.self),
                       refreshedAt: try row.decode(column: "session_refreshed_at", as: Int64.self), version: version, now: millis)
        }
        return identity
    }

    /// `identity`'s query: the session by its id and user, if live, with what says how long it stays live.
    private static let identityQuery = FixedStatement.Text("""
        SELECT \(UserStore.columns), s.expires_at AS session_expires_at, s.refreshed_at AS session_refreshed_at
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = ? AND s.user_id = ? AND \(liveCondition.text)
        """)

    enum Rotation: Sendable {
        case rotated(Session)
        /// The token was already used: the whole session is now revoked.
        case reused
        /// Unknown token, or its session is over.
        case invalid
    }

    /// Swaps the refresh token with hash `oldHash` for `newHash`, atomically: of concurrent callers presenting the
    /// same token exactly one wins; the others, and any later replay, are reuse and revoke the session.
    func rotate(oldHash: String, newHash: String, now: Date) async throws -> Rotation {
        let liveCondition = live(now)
        return try await db.transaction { sql in
            guard let token = try await sql.raw("""
                SELECT rt.id, rt.session_id, rt.revoked_at FROM refresh_tokens rt WHERE rt.token_hash = \(bind: oldHash)
                """).first() else { return .invalid }
            let tokenID = try token.decode(column: "id", as: String.self)
            let sessionID = try token.decode(column: "session_id", as: String.self)
            guard let sessionRow = try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM sessions s WHERE s.id = \(bind: sessionID) AND \(liveCondition)
                """).first() else { return .invalid }

            // Claim the token; a concurrent refresh that claimed it first makes this one a replay.
            let claimed = try await sql.raw("""
                UPDATE refresh_tokens SET revoked_at = \(bind: now.millis)
                WHERE id = \(bind: tokenID) AND revoked_at IS NULL RETURNING id
                """).first()
            guard claimed != nil else {
                try await Self.revoke(sql, sessionID: sessionID, reason: "refresh_token_reused", now: now)
                return .reused
            }
            try await sql.raw("""
                INSERT INTO refresh_tokens (id, session_id, token_hash, parent_id, created_at)
                VALUES (\(bind: UUID.random().lowercased), \(bind: sessionID), \(bind: newHash), \(bind: tokenID), \(bind: now.millis))
                """).run()
            try await sql.raw("UPDATE sessions SET refreshed_at = \(bind: now.millis) WHERE id = \(bind: sessionID)").run()
            let session = try Self.session(from: sessionRow)
            return .rotated(Session(id: session.id, userID: session.userID, createdAt: session.createdAt, refreshedAt: now,
                                    expiresAt: session.expiresAt, userAgent: session.userAgent, ipAddress: session.ipAddress))
        }
    }

    private static func revoke(_ sql: any SQLDatabase, sessionID: String, reason: String, now: Date) async throws {
        try await sql.raw("""
            UPDATE sessions SET revoked_at = \(bind: now.millis), revoked_reason = \(bind: reason)
            WHERE id = \(bind: sessionID) AND revoked_at IS NULL
            """).run()
        try await sql.raw("""
            UPDATE refresh_tokens SET revoked_at = \(bind: now.millis) WHERE session_id = \(bind: sessionID) AND revoked_at IS NULL
            """).run()
    }

    /// Revokes one of the user's sessions; false when it is not theirs or already over.
    func revoke(sessionID: UUID, userID: UUID, reason: String, now: Date) async throws -> Bool {
        try await db.transaction { sql in
            let owned = try await sql.raw("""
                SELECT id FROM sessions WHERE id = \(bind: sessionID.lowercased) AND user_id = \(bind: userID.lowercased)
                AND revoked_at IS NULL
                """).first()
            guard owned != nil else { return false }
            try await Self.revoke(sql, sessionID: sessionID.lowercased, reason: reason, now: now)
            return true
        }
    }

    /// Revokes every session of the user, but `except` when given.
    func revokeAll(userID: UUID, except: UUID?, reason: String, now: Date) async throws {
        try await db.transaction { sql in
            let keep = except?.lowercased ?? ""
            let ids = try await sql.raw("""
                SELECT id FROM sessions WHERE user_id = \(bind: userID.lowercased) AND revoked_at IS NULL AND id <> \(bind: keep)
                """).all().map { try $0.decode(column: "id", as: String.self) }
            for id in ids {
                try await Self.revoke(sql, sessionID: id, reason: reason, now: now)
            }
        }
    }

    /// The user's live sessions, newest first.
    func list(userID: UUID, page: PageRequest, now: Date) async throws -> Page<Session> {
        let countRow = try await db.first("""
            SELECT COUNT(*) AS n FROM sessions s WHERE s.user_id = \(bind: userID.lowercased) AND \(live(now))
            """)
        let total = try countRow?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM sessions s WHERE s.user_id = \(bind: userID.lowercased) AND \(live(now))
            ORDER BY s.created_at DESC, s.id LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.session(from:)), total: total, request: page)
    }
}
