import Foundation
import NIOCore
import SQLKit
import Storage

/// Records: one opaque blob each, in a table the client names, under `{user_id}/{table}/{id}`.
extension ClientStorage {
    /// A table name as clients send it: 1 to 64 of `a-z 0-9 _`, starting with a letter; `backups` and `vectors` name
    /// the other kinds of objects in a user's part of the store.
    public static func isTableName(_ name: String) -> Bool {
        !["backups", "vectors"].contains(name) && name.isLowercaseIdentifier(maxLength: 64)
    }

    static func recordKey(user: UUID, table: String, id: UUID) -> BlobKey {
        BlobKey([user.lowercased, table, id.lowercased])!
    }

    /// Stores a new record: the checksum is checked, the bytes are written, and the record and its bytes are counted
    /// in one transaction (402 past the quota, and then nothing is kept).
    public func createRecord(user: User, table: String, bytes: ByteBuffer, checksum: String) async throws -> StoredRecord {
        let limit = try limit(.cloud, user: user)
        let staged = try await blobs.stage(Self.single(bytes), maxBytes: maxRecordBytes)
        guard staged.matches(checksum) else {
            await blobs.discard(staged)
            throw Self.checksumMismatch()
        }
        let now = clock.now
        let record = StoredRecord(id: UUID.random(), table: table, checksum: staged.sha256.hexString, sizeBytes: staged.bytes, createdAt: now, updatedAt: now)
        let key = Self.recordKey(user: user.id, table: table, id: record.id)
        do {
            // The bytes are in place before the metadata names them: a crash between leaves an orphan for `storage gc`,
            // never a record without bytes.
            try await blobs.commit(staged, as: key)
            try await db.transaction { sql in
                try await Self.account(staged.bytes, .cloud, limit: limit, user: user.id, on: sql)
                try await sql.raw("""
                    INSERT INTO client_records (id, user_id, table_name, checksum, size_bytes, created_at, updated_at)
                    VALUES (\(bind: record.id.lowercased), \(bind: user.id.lowercased), \(bind: table), \(bind: record.checksum),
                            \(bind: record.sizeBytes), \(bind: now.millis), \(bind: now.millis))
                    """).run()
            }
        } catch {
            await blobs.discard(staged)
            try? await blobs.delete(key)
            throw error
        }
        return record
    }

    /// Replaces a record's bytes (404 for another user's); the quota moves by the difference.
    public func replaceRecord(user: User, id: UUID, bytes: ByteBuffer, checksum: String) async throws {
        let limit = try limit(.cloud, user: user)
        guard let existing = try await record(user: user.id, id: id) else { throw AppError.notFound("record") }
        let staged = try await blobs.stage(Self.single(bytes), maxBytes: maxRecordBytes)
        guard staged.matches(checksum) else {
            await blobs.discard(staged)
            throw Self.checksumMismatch()
        }
        let now = clock.now
        do {
            // Counted first, moved into place second: a refused quota leaves the old bytes as they were.
            try await db.transaction { sql in
                let changed = try await sql.raw("""
                    UPDATE client_records SET checksum = \(bind: staged.sha256.hexString), size_bytes = \(bind: staged.bytes),
                        updated_at = \(bind: now.millis)
                    WHERE id = \(bind: id.lowercased) AND user_id = \(bind: user.id.lowercased) RETURNING id
                    """).first()
                guard changed != nil else { throw AppError.notFound("record") }
                try await Self.account(staged.bytes - existing.sizeBytes, .cloud, limit: limit, user: user.id, on: sql)
            }
            try await blobs.commit(staged, as: Self.recordKey(user: user.id, table: existing.table, id: id))
        } catch {
            await blobs.discard(staged)
            throw error
        }
    }

    /// Deletes a record and its bytes; deleting one that is not there (or not the user's) is no error.
    public func deleteRecord(user: User, id: UUID) async throws {
        let removed = try await db.transaction { sql -> StoredRecord? in
            guard let row = try await sql.raw("""
                DELETE FROM client_records WHERE id = \(bind: id.lowercased) AND user_id = \(bind: user.id.lowercased)
                RETURNING \(unsafeRaw: Self.recordColumns)
                """).first() else { return nil }
            let record = try Self.record(row)
            try await Self.account(-record.sizeBytes, .cloud, limit: nil, user: user.id, on: sql)
            return record
        }
        if let removed { try await blobs.delete(Self.recordKey(user: user.id, table: removed.table, id: id)) }
    }

    /// The user's record and its bytes, or nil (another user's record is nil too).
    public func readRecord(user: User, id: UUID) async throws -> (StoredRecord, BlobRead)? {
        guard let record = try await record(user: user.id, id: id),
              let read = try await blobs.read(Self.recordKey(user: user.id, table: record.table, id: id)) else { return nil }
        return (record, read)
    }

    /// The user's records, newest first, in pages of `limit` (`page` from 1), of one table or all.
    public func records(user: User, table: String?, page: Int, limit: Int) async throws -> [StoredRecord] {
        let offset = Int64(page - 1) * Int64(limit)
        let filter: SQLQueryString = table.map { "AND table_name = \(bind: $0)" } ?? ""
        return try await db.all("""
            SELECT \(unsafeRaw: Self.recordColumns) FROM client_records WHERE user_id = \(bind: user.id.lowercased) \(filter)
            ORDER BY created_at DESC, id LIMIT \(bind: Int64(limit)) OFFSET \(bind: offset)
            """).map(Self.record)
    }

    func record(user: UUID, id: UUID) async throws -> StoredRecord? {
        try await db.first("""
            SELECT \(unsafeRaw: Self.recordColumns) FROM client_records WHERE id = \(bind: id.lowercased) AND user_id = \(bind: user.lowercased)
            """).map(Self.record)
    }

    static let recordColumns = "id, table_name, checksum, size_bytes, created_at, updated_at"

    static func record(_ row: any SQLRow) throws -> StoredRecord {
        StoredRecord(id: UUID.parse(try row.decode(column: "id", as: String.self)) ?? UUID.random(),
                     table: try row.decode(column: "table_name", as: String.self), checksum: try row.decode(column: "checksum", as: String.self),
                     sizeBytes: try row.decode(column: "size_bytes", as: Int64.self),
                     createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
                     updatedAt: Date(millis: try row.decode(column: "updated_at", as: Int64.self)))
    }
}
