import Crypto
import Foundation
import SQLKit
import Storage

/// API keys: `sk_<prefix>_<secret>`, shown once. Only a SHA-256 of the whole key is stored; the prefix finds the row,
/// the hash (compared in constant time) proves the key. A key acts as its user, within its scopes.
public struct ApiKey: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public let name: String
    public let prefix: String
    public let scopes: [String]
    public let createdAt: Date
    public let expiresAt: Date?
    public let lastUsedAt: Date?
}

public struct ApiKeys: Sendable {
    /// What a key may be allowed to do; each API route names the scope it needs.
    public static let scopes = ["chat", "conversations:read", "conversations:write", "integrations:read", "integrations:write",
                                "account:read", "teams:read", "teams:write", "data:read", "data:write", "memories:read", "memories:write"]
    public static let tokenPrefix = "sk_"
    let db: any Database
    let clock: WallClock

    public init(db: any Database, clock: WallClock) {
        self.db = db
        self.clock = clock
    }

    static let columns = "k.id, k.user_id, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.last_used_at"

    static func key(from row: any SQLRow) throws -> ApiKey {
        func date(_ column: String) throws -> Date? {
            try row.decodeNil(column: column) ? nil : Date(millis: try row.decode(column: column, as: Int64.self))
        }
        return ApiKey(id: try uuid(row, "id"), userID: try uuid(row, "user_id"), name: try row.decode(column: "name", as: String.self),
                      prefix: try row.decode(column: "prefix", as: String.self),
                      scopes: try row.decode(column: "scopes", as: String.self).split(separator: ",").map(String.init),
                      createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
                      expiresAt: try date("expires_at"), lastUsedAt: try date("last_used_at"))
    }

    /// Creates a key; returns it and the token, which is never shown again.
    public func create(userID: UUID, name rawName: String, scopes: [String], expiresAt: Date?) async throws -> (ApiKey, String) {
        var errors: [FieldError] = []
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        // Counted as the contract's maxLength counts: Unicode scalars, before trimming.
        if name.isEmpty || rawName.unicodeScalars.count > 100 || name.containsControlCharacters {
            errors.append(FieldError(field: "name", code: "invalid_name", message: "must be 1 to 100 characters, no control characters"))
        }
        let unknown = scopes.filter { !Self.scopes.contains($0) }
        if scopes.isEmpty || !unknown.isEmpty {
            errors.append(FieldError(field: "scopes", code: "invalid_scope", message: "must be some of \(Self.scopes.joined(separator: ", "))"))
        }
        if let expiresAt, expiresAt <= clock.now {
            errors.append(FieldError(field: "expires_at", code: "in_the_past", message: "must be in the future"))
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }

        let prefix = Random.hex(bytes: 4) // 8 characters, none of them the separator
        let token = Self.tokenPrefix + prefix + "_" + Random.token(bytes: 32)
        let key = ApiKey(id: UUID.random(), userID: userID, name: name, prefix: prefix, scopes: Array(Set(scopes)).sorted(),
                         createdAt: clock.now, expiresAt: expiresAt, lastUsedAt: nil)
        try await db.run("""
            INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at)
            VALUES (\(bind: key.id.lowercased), \(bind: userID.lowercased), \(bind: name), \(bind: prefix), \(bind: sha256Hex(token)),
                    \(bind: key.scopes.joined(separator: ",")), \(bind: key.createdAt.millis), \(bind: expiresAt?.millis))
            """)
        return (key, token)
    }

    public func list(userID: UUID, page: PageRequest) async throws -> Page<ApiKey> {
        let filter: SQLQueryString = "k.user_id = \(bind: userID.lowercased) AND k.revoked_at IS NULL"
        let total = try await db.first("SELECT COUNT(*) AS n FROM api_keys k WHERE \(filter)")?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM api_keys k WHERE \(filter)
            ORDER BY k.created_at DESC, k.id LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.key(from:)), total: total, request: page)
    }

    /// Revokes the key at once; 404 unless it is the user's.
    public func revoke(_ id: UUID, userID: UUID) async throws {
        let revoked = try await db.first("""
            UPDATE api_keys SET revoked_at = \(bind: clock.now.millis)
            WHERE id = \(bind: id.lowercased) AND user_id = \(bind: userID.lowercased) AND revoked_at IS NULL RETURNING id
            """)
        guard revoked != nil else { throw AppError.notFound("API key") }
    }

    /// The user and the key behind a token, or 401. Runs on every request made with a key.
    func authenticate(_ token: String) async throws -> Identity {
        let invalid = AppError.unauthorized("invalid_api_key", "The API key is invalid, expired or revoked.")
        let parts = token.dropFirst(Self.tokenPrefix.count).split(separator: "_", maxSplits: 1)
        guard token.hasPrefix(Self.tokenPrefix), parts.count == 2, parts[0].count == 8 else { throw invalid }
        let now = clock.now
        guard let row = try await db.first("""
            SELECT \(unsafeRaw: Self.columns), k.secret_hash, k.revoked_at, u.email AS user_email, u.name AS user_name, u.tier,
                u.seats, u.role, u.created_at AS user_created_at
            FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = \(bind: String(parts[0]))
            """) else { throw invalid }
        let stored = Array(try row.decode(column: "secret_hash", as: String.self).utf8)
        let presented = Array(sha256Hex(token).utf8)
        // Constant time: how much of a guess matched must not show in the response time.
        guard constantTimeEqual(stored, presented), try row.decodeNil(column: "revoked_at") else { throw invalid }
        let key = try Self.key(from: row)
        if let expires = key.expiresAt, expires <= now { throw invalid }
        // Aliased: the key has a name too, and PostgreSQL finds columns by name.
        let user = User(id: key.userID, email: try row.decodeNil(column: "user_email") ? nil : row.decode(column: "user_email", as: String.self),
                        name: try row.decodeNil(column: "user_name") ? nil : row.decode(column: "user_name", as: String.self),
                        tier: try row.decode(column: "tier", as: String.self), seats: Int(try row.decode(column: "seats", as: Int64.self)),
                        role: try row.decode(column: "role", as: String.self), createdAt: Date(millis: try row.decode(column: "user_created_at", as: Int64.self)))
        // Last use is kept to the minute: one write a minute per key, not one per request.
        if key.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try await db.run("UPDATE api_keys SET last_used_at = \(bind: now.millis) WHERE id = \(bind: key.id.lowercased)")
        }
        return Identity(user: user, sessionID: nil, apiKeyID: key.id, scopes: Set(key.scopes))
    }
}
