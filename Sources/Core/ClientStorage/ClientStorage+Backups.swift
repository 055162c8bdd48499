import Foundation
import NIOCore
import SQLKit
import Storage

/// Backups: the client's whole encrypted state, streamed in and out (never held in memory), under
/// `{user_id}/backups/{timestamp}`.
extension ClientStorage {
    static func backupKey(user: UUID, timestamp: Int64) -> BlobKey {
        BlobKey([user.lowercased, "backups", String(timestamp)])!
    }

    /// Streams a backup in: staged while its SHA-256 is computed, checked against `checksum`, counted against the
    /// backup quota and recorded in one transaction, then moved into place. A stream cut short, a wrong checksum or
    /// a full quota leave nothing behind and nothing counted.
    public func putBackup(user: User, version: Int64, timestamp: Int64, checksum: String,
                          body: some AsyncSequence<ByteBuffer, any Error> & Sendable) async throws -> StoredBackup {
        let limit = try limit(.backup, user: user)
        if try await db.first("SELECT id FROM client_backups WHERE user_id = \(bind: user.id.lowercased) AND timestamp = \(bind: timestamp)") != nil {
            throw Self.backupExists(timestamp)
        }
        let staged = try await blobs.stage(body, maxBytes: limit.map { min($0, maxBackupBytes) } ?? maxBackupBytes)
        guard staged.matches(checksum) else {
            await blobs.discard(staged)
            throw Self.checksumMismatch()
        }
        let now = clock.now
        let backup = StoredBackup(id: UUID.random(), version: version, timestamp: timestamp, checksum: staged.sha256.hexString, sizeBytes: staged.bytes,
                                  chunkCount: max(1, (staged.bytes + Self.chunkBytes - 1) / Self.chunkBytes), createdAt: now)
        let key = Self.backupKey(user: user.id, timestamp: timestamp)
        // The row first: its unique (user, timestamp) decides between two uploads of one timestamp before either's
        // bytes land. Bytes that then fail to land take their row and their count back with them.
        do {
            try await db.transaction { sql in
                try await Self.account(staged.bytes, .backup, limit: limit, user: user.id, on: sql)
                try await sql.raw("""
                    INSERT INTO client_backups (id, user_id, version, timestamp, checksum, size_bytes, chunk_count, created_at)
                    VALUES (\(bind: backup.id.lowercased), \(bind: user.id.lowercased), \(bind: version), \(bind: timestamp), \(bind: backup.checksum),
                            \(bind: backup.sizeBytes), \(bind: backup.chunkCount), \(bind: now.millis))
                    """).run()
            }
        } catch {
            await blobs.discard(staged)
            if Self.isUniqueViolation(error) { throw Self.backupExists(timestamp) }
            throw error
        }
        do {
            try await blobs.commit(staged, as: key)
        } catch {
            await blobs.discard(staged)
            try? await deleteBackup(user: user, id: backup.id, keepingBytes: true)
            throw error
        }
        return backup
    }

    static func backupExists(_ timestamp: Int64) -> AppError {
        AppError(status: 409, code: "backup_exists", title: "Conflict", detail: "A backup with the timestamp \(timestamp) exists; delete it first.")
    }

    static func isUniqueViolation(_ error: any Error) -> Bool {
        let text = String(reflecting: error).lowercased()
        return text.contains("unique") || text.contains("23505")
    }

    /// The user's latest backup (by its timestamp) and its bytes.
    public func latestBackup(user: User) async throws -> (StoredBackup, BlobRead)? {
        guard let backup = try await latestBackupInfo(user: user),
              let read = try await blobs.read(Self.backupKey(user: user.id, timestamp: backup.timestamp)) else { return nil }
        return (backup, read)
    }

    /// The user's latest backup's metadata, without opening its bytes (for If-Modified-Since).
    public func latestBackupInfo(user: User) async throws -> StoredBackup? {
        try await db.first("""
            SELECT \(unsafeRaw: Self.backupColumns) FROM client_backups WHERE user_id = \(bind: user.id.lowercased) ORDER BY timestamp DESC LIMIT 1
            """).map(Self.backup)
    }

    /// Every backup of the user, newest first (at most 1,000).
    public func backups(user: User) async throws -> [StoredBackup] {
        try await db.all("""
            SELECT \(unsafeRaw: Self.backupColumns) FROM client_backups WHERE user_id = \(bind: user.id.lowercased) ORDER BY timestamp DESC LIMIT 1000
            """).map(Self.backup)
    }

    /// Deletes one backup (404 when it is not the user's).
    public func deleteBackup(user: User, id: UUID, keepingBytes: Bool = false) async throws {
        let removed = try await db.transaction { sql -> StoredBackup? in
            guard let row = try await sql.raw("""
                DELETE FROM client_backups WHERE id = \(bind: id.lowercased) AND user_id = \(bind: user.id.lowercased)
                RETURNING \(unsafeRaw: Self.backupColumns)
                """).first() else { return nil }
            let backup = try Self.backup(row)
            try await Self.account(-backup.sizeBytes, .backup, limit: nil, user: user.id, on: sql)
            return backup
        }
        guard let removed else { throw AppError.notFound("backup") }
        if !keepingBytes { try await blobs.delete(Self.backupKey(user: user.id, timestamp: removed.timestamp)) }
    }

    static let backupColumns = "id, version, timestamp, checksum, size_bytes, chunk_count, created_at"

    static func backup(_ row: any SQLRow) throws -> StoredBackup {
        StoredBackup(id: UUID.parse(try row.decode(column: "id", as: String.self)) ?? UUID.random(),
                     version: try row.decode(column: "version", as: Int64.self), timestamp: try row.decode(column: "timestamp", as: Int64.self),
                     checksum: try row.decode(column: "checksum", as: String.self), sizeBytes: try row.decode(column: "size_bytes", as: Int64.self),
                     chunkCount: try row.decode(column: "chunk_count", as: Int64.self),
                     createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)))
    }
}
