import Foundation
import LLM
import SQLKit
import Storage
import Vault

/// The `integrations` table: metadata in the clear, the secret sealed (its wrapped data key and ciphertext as
/// base64). Every query is scoped by the owner.
struct IntegrationStore: Sendable {
    let db: any Database

    static let columns = "i.id, i.user_id, i.kind, i.name, i.metadata, i.created_at"

    static func integration(from row: any SQLRow) throws -> Integration {
        Integration(id: try uuid(row, "id"), userID: try uuid(row, "user_id"),
                    kind: IntegrationKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .apiKey,
                    name: try row.decode(column: "name", as: String.self),
                    metadata: JSONValue.parse(try row.decode(column: "metadata", as: String.self)) ?? .object([:]),
                    createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)))
    }

    static func sealed(from row: any SQLRow) throws -> SealedSecret {
        guard let wrapped = Data(base64Encoded: try row.decode(column: "wrapped_key", as: String.self)),
              let ciphertext = Data(base64Encoded: try row.decode(column: "ciphertext", as: String.self)) else {
            throw VaultError.decryptionFailed
        }
        return SealedSecret(version: Int(try row.decode(column: "secret_version", as: Int64.self)),
                            keyID: try row.decode(column: "key_id", as: String.self), wrappedKey: wrapped, ciphertext: ciphertext)
    }

    func insert(_ integration: Integration, sealed: SealedSecret) async throws {
        try await db.run("""
            INSERT INTO integrations (id, user_id, kind, name, metadata, secret_version, key_id, wrapped_key, ciphertext, created_at, updated_at)
            VALUES (\(bind: integration.id.lowercased), \(bind: integration.userID.lowercased), \(bind: integration.kind.rawValue),
                    \(bind: integration.name), \(bind: integration.metadata.jsonString), \(bind: Int64(sealed.version)),
                    \(bind: sealed.keyID), \(bind: sealed.wrappedKey.base64EncodedString()), \(bind: sealed.ciphertext.base64EncodedString()),
                    \(bind: integration.createdAt.millis), \(bind: integration.createdAt.millis))
            """)
    }

    func list(userID: UUID, kind: IntegrationKind? = nil, page: PageRequest) async throws -> Page<Integration> {
        var filter: SQLQueryString = "i.user_id = \(bind: userID.lowercased)"
        if let kind { filter = "\(filter) AND i.kind = \(bind: kind.rawValue)" }
        let total = try await db.first("SELECT COUNT(*) AS n FROM integrations i WHERE \(filter)")?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM integrations i WHERE \(filter)
            ORDER BY i.created_at DESC, i.id LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.integration(from:)), total: total, request: page)
    }

    func find(id: UUID, userID: UUID) async throws -> Integration? {
        try await db.first("""
            SELECT \(unsafeRaw: Self.columns) FROM integrations i WHERE i.id = \(bind: id.lowercased) AND i.user_id = \(bind: userID.lowercased)
            """).map(Self.integration(from:))
    }

    /// The integration and its sealed secret, if it is the user's.
    func findSealed(id: UUID, userID: UUID) async throws -> (Integration, SealedSecret)? {
        guard let row = try await db.first("""
            SELECT \(unsafeRaw: Self.columns), i.secret_version, i.key_id, i.wrapped_key, i.ciphertext FROM integrations i
            WHERE i.id = \(bind: id.lowercased) AND i.user_id = \(bind: userID.lowercased)
            """) else { return nil }
        return (try Self.integration(from: row), try Self.sealed(from: row))
    }

    /// Deletes the row, and with it the only copy of the wrapped data key: the secret is gone.
    func delete(id: UUID, userID: UUID) async throws -> Bool {
        try await db.first("""
            DELETE FROM integrations WHERE id = \(bind: id.lowercased) AND user_id = \(bind: userID.lowercased) RETURNING id
            """) != nil
    }

    func keyIDsInUse() async throws -> [String] {
        try await db.all("SELECT DISTINCT key_id FROM integrations").map { try $0.decode(column: "key_id", as: String.self) }
    }

    /// The next batch of secrets not wrapped by `activeKeyID`, in id order after `after`.
    func sealedNotUnder(_ activeKeyID: String, after: String, limit: Int) async throws -> [(id: String, sealed: SealedSecret)] {
        try await db.all("""
            SELECT i.id, i.secret_version, i.key_id, i.wrapped_key, i.ciphertext FROM integrations i
            WHERE i.key_id <> \(bind: activeKeyID) AND i.id > \(bind: after) ORDER BY i.id LIMIT \(bind: limit)
            """).map { (try $0.decode(column: "id", as: String.self), try Self.sealed(from: $0)) }
    }

    /// Replaces a row's wrapped data key, unless the row changed meanwhile (then nothing happens).
    func replaceWrappedKey(id: String, old: SealedSecret, new: SealedSecret) async throws -> Bool {
        try await db.first("""
            UPDATE integrations SET key_id = \(bind: new.keyID), wrapped_key = \(bind: new.wrappedKey.base64EncodedString())
            WHERE id = \(bind: id) AND key_id = \(bind: old.keyID) AND wrapped_key = \(bind: old.wrappedKey.base64EncodedString())
            RETURNING id
            """) != nil
    }
}
