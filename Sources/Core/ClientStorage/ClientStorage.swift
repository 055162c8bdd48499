import Foundation
import Logging
import NIOCore
import SQLKit
import Storage

/// End-to-end-encrypted storage for apps whose clients encrypt before upload: the server keeps opaque bytes in a blob
/// store and their metadata here, checks each upload's SHA-256 against the client's checksum before anything is kept,
/// and counts every byte against the user's tier, exactly, in the transaction that records it. It never decrypts,
/// logs or derives anything from the bytes but their checksum.
public final class ClientStorage: Sendable {
    public static let gigabyte: Int64 = 1_000_000_000
    /// The unit `chunk_count` counts in.
    public static let chunkBytes: Int64 = 8 * 1024 * 1024

    let db: any Database
    public let blobs: any BlobStore
    let plans: Plans
    let settings: ClientStorageSettings
    let clock: WallClock

    public init(db: any Database, blobs: any BlobStore, plans: Plans, settings: ClientStorageSettings, clock: WallClock) {
        self.db = db
        self.blobs = blobs
        self.plans = plans
        self.settings = settings
        self.clock = clock
    }

    public var maxRecordBytes: Int64 { settings.maxRecordBytes }
    public var maxBackupBytes: Int64 { settings.maxBackupBytes }

    /// The user's limit for `quota` in bytes (nil: unlimited); 403 when the tier does not include it at all.
    func limit(_ quota: StorageQuota, user: User) throws -> Int64? {
        let tier = plans.tier(user.tier)
        guard tier.includes(quota.feature) else { throw AppError.featureNotInPlan(quota.feature, tier: tier.name) }
        // `<quota>_mb` (tests, finer plans) wins over `<quota>_gb`.
        if let megabytes = tier.limits[quota.limitMB] {
            return megabytes < 0 || megabytes.multipliedReportingOverflow(by: 1_000_000).overflow ? nil : megabytes * 1_000_000
        }
        guard let gigabytes = tier.limits[quota.limit], gigabytes >= 0 else { return nil }
        return gigabytes.multipliedReportingOverflow(by: Self.gigabyte).overflow ? nil : gigabytes * Self.gigabyte
    }

    /// Moves the user's usage of `quota` by `delta` bytes in the caller's transaction; a rise past the limit fails
    /// (402), whatever runs at once: the conditional update is the check.
    static func account(_ delta: Int64, _ quota: StorageQuota, limit: Int64?, user: UUID, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO client_storage_usage (user_id, records_bytes, backup_bytes) VALUES (\(bind: user.lowercased), 0, 0)
            ON CONFLICT (user_id) DO NOTHING
            """).run()
        let bound = limit ?? -1
        let moved = try await sql.raw("""
            UPDATE client_storage_usage SET \(unsafeRaw: quota.column) = \(unsafeRaw: quota.column) + \(bind: delta)
            WHERE user_id = \(bind: user.lowercased) AND (\(bind: delta) <= 0 OR \(bind: bound) < 0 OR \(unsafeRaw: quota.column) + \(bind: delta) <= \(bind: bound))
            RETURNING user_id
            """).first()
        guard moved != nil else {
            throw AppError(status: 402, code: quota.code, title: "Payment required",
                           detail: "This would take your \(quota == .cloud ? "cloud storage" : "backup space") past your plan's "
                               + (bound >= gigabyte ? "\(bound / gigabyte) GB." : "\(bound / 1_000_000) MB."))
        }
    }

    /// What the user stores in each quota, in bytes.
    public func usage(user: UUID) async throws -> (records: Int64, backups: Int64) {
        guard let row = try await db.first("SELECT records_bytes, backup_bytes FROM client_storage_usage WHERE user_id = \(bind: user.lowercased)") else {
            return (0, 0)
        }
        return (try row.decode(column: "records_bytes", as: Int64.self), try row.decode(column: "backup_bytes", as: Int64.self))
    }

    static func single(_ buffer: ByteBuffer) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            continuation.yield(buffer)
            continuation.finish()
        }
    }

    static func checksumMismatch() -> AppError {
        AppError(status: 400, code: "checksum_mismatch", title: "Bad request",
                 detail: "The SHA-256 of the bytes is not the checksum sent; nothing was stored.")
    }

    public struct Collected: Sendable {
        public let objects: Int
        public let staged: Int
        public let backups: Int
    }

    /// Removes what a crash left behind, if older than `grace`: staged writes, objects no record or backup names,
    /// and backups whose bytes never landed (their count given back).
    public func collectGarbage(grace: TimeInterval = 3_600) async throws -> Collected {
        let cutoff = clock.now.addingTimeInterval(-grace)
        let inventory = try await blobs.inventory(staleAfter: cutoff)
        var known = Set<String>()
        for row in try await db.all("SELECT user_id, table_name, id FROM client_records") {
            known.insert("\(try row.decode(column: "user_id", as: String.self))/\(try row.decode(column: "table_name", as: String.self))/"
                         + (try row.decode(column: "id", as: String.self)))
        }
        for row in try await db.all("SELECT user_id, id FROM client_vectors") {
            known.insert("\(try row.decode(column: "user_id", as: String.self))/vectors/\(try row.decode(column: "id", as: String.self))")
        }
        var backups: [(user: String, id: String, key: String, createdAt: Int64, size: Int64)] = []
        for row in try await db.all("SELECT user_id, id, timestamp, created_at, size_bytes FROM client_backups") {
            let user = try row.decode(column: "user_id", as: String.self)
            let key = "\(user)/backups/\(try row.decode(column: "timestamp", as: Int64.self))"
            known.insert(key)
            backups.append((user, try row.decode(column: "id", as: String.self), key, try row.decode(column: "created_at", as: Int64.self),
                            try row.decode(column: "size_bytes", as: Int64.self)))
        }
        var removed = 0
        for (key, modified) in inventory.objects where modified < cutoff && !known.contains(key.description) {
            try await blobs.delete(key)
            removed += 1
        }
        for staged in inventory.staleStaged { await blobs.discard(staged) }
        let present = Set(inventory.objects.map(\.key.description))
        var lost = 0
        for backup in backups where backup.createdAt < cutoff.millis && !present.contains(backup.key) {
            try await db.transaction { sql in
                guard try await sql.raw("DELETE FROM client_backups WHERE id = \(bind: backup.id) RETURNING id").first() != nil,
                      let user = UUID(uuidString: backup.user) else { return }
                try await Self.account(-backup.size, .backup, limit: nil, user: user, on: sql)
            }
            lost += 1
        }
        return Collected(objects: removed, staged: inventory.staleStaged.count, backups: lost)
    }
}
