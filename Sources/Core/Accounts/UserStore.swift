import Foundation
import SQLKit
import Storage

/// The `users` table.
struct UserStore: Sendable {
    let db: any Database

    static let columns = "u.id, u.email, u.name, u.tier, u.seats, u.role, u.created_at"

    /// The user of `row`; `id` is its id when the query matched it already (the row's is then not parsed).
    static func user(from row: any SQLRow, id: UUID? = nil) throws -> User {
        User(
            id: try id ?? uuid(row, "id"),
            email: try row.decodeNil(column: "email") ? nil : row.decode(column: "email", as: String.self),
            name: try row.decodeNil(column: "name") ? nil : row.decode(column: "name", as: String.self),
            tier: try row.decode(column: "tier", as: String.self),
            seats: Int(try row.decode(column: "seats", as: Int64.self)),
            role: try row.decode(column: "role", as: String.self),
            createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self))
        )
    }

    /// Inserts a user (with `id`, or a new one); nil when the email or the id is taken.
    func create(id: UUID = UUID.random(), email: String?, passwordHash: String?, name: String?, tier: String, externalSubject: String? = nil,
                now: Date) async throws -> User? {
        let row = try await db.first("""
            INSERT INTO users (id, email, password_hash, name, tier, external_subject, created_at, updated_at)
            VALUES (\(bind: id.lowercased), \(bind: email), \(bind: passwordHash), \(bind: name), \(bind: tier),
                    \(bind: externalSubject), \(bind: now.millis), \(bind: now.millis))
            ON CONFLICT DO NOTHING
            RETURNING id
            """)
        guard row != nil else { return nil }
        return User(id: id, email: email, name: name, tier: tier, createdAt: now)
    }

    func find(id: UUID) async throws -> User? {
        try await db.first("SELECT \(unsafeRaw: Self.columns) FROM users u WHERE u.id = \(bind: id.lowercased)")
            .map { try Self.user(from: $0) }
    }

    /// The user and their password hash, for login.
    func findForLogin(email: String) async throws -> (User, String?)? {
        guard let row = try await db.first("""
            SELECT \(unsafeRaw: Self.columns), u.password_hash FROM users u WHERE u.email = \(bind: email)
            """) else { return nil }
        let hash = try row.decodeNil(column: "password_hash") ? nil : try row.decode(column: "password_hash", as: String.self)
        return (try Self.user(from: row), hash)
    }

    func passwordHash(userID: UUID) async throws -> String? {
        guard let row = try await db.first("SELECT password_hash FROM users WHERE id = \(bind: userID.lowercased)"),
              try !row.decodeNil(column: "password_hash") else { return nil }
        return try row.decode(column: "password_hash", as: String.self)
    }

    func findExternal(subject: String) async throws -> User? {
        try await db.first("SELECT \(unsafeRaw: Self.columns) FROM users u WHERE u.external_subject = \(bind: subject)")
            .map { try Self.user(from: $0) }
    }

    func updateName(userID: UUID, name: String?, now: Date) async throws -> User? {
        try await db.run("""
            UPDATE users SET name = \(bind: name), updated_at = \(bind: now.millis) WHERE id = \(bind: userID.lowercased)
            """)
        return try await find(id: userID)
    }
}

extension UserStore {
    /// Sets a user's role; false when no user has this email.
    func setRole(email: String, role: String, now: Date) async throws -> Bool {
        try await db.first("""
            UPDATE users SET role = \(bind: role), updated_at = \(bind: now.millis) WHERE email = \(bind: email) RETURNING id
            """) != nil
    }

    func setTier(email: String, tier: String, now: Date) async throws -> Bool {
        try await db.first("""
            UPDATE users SET tier = \(bind: tier), updated_at = \(bind: now.millis) WHERE email = \(bind: email) RETURNING id
            """) != nil
    }
}

func uuid(_ row: any SQLRow, _ column: String) throws -> UUID {
    let text = try row.decode(column: column, as: String.self)
    guard let id = UUID.parse(text) else {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "column \(column) is not a UUID"))
    }
    return id
}

extension UserStore {
    func setPassword(userID: UUID, hash: String, now: Date) async throws {
        try await db.run("""
            UPDATE users SET password_hash = \(bind: hash), updated_at = \(bind: now.millis) WHERE id = \(bind: userID.lowercased)
            """)
    }
}
