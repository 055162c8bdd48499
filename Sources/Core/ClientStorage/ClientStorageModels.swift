import Foundation

/// A client-encrypted record's metadata: its bytes are in the blob store under `{user_id}/{table}/{id}`.
public struct StoredRecord: Sendable, Equatable {
    public let id: UUID
    public let table: String
    public let checksum: String
    public let sizeBytes: Int64
    public let createdAt: Date
    public let updatedAt: Date
}

/// A backup's metadata: its bytes are under `{user_id}/backups/{timestamp}`.
public struct StoredBackup: Sendable, Equatable {
    public let id: UUID
    public let version: Int64
    /// The client's own time of the backup, in epoch milliseconds.
    public let timestamp: Int64
    public let checksum: String
    public let sizeBytes: Int64
    /// How many chunks of `ClientStorage.chunkBytes` the bytes make (transfers go by chunks).
    public let chunkCount: Int64
    public let createdAt: Date
}

/// The two quotas: records (and vectors) count toward the tier's cloud storage, backups toward its backup space.
public enum StorageQuota: String, Sendable {
    case cloud, backup

    /// The tier feature that opens it.
    public var feature: String { self == .cloud ? "cloud_storage" : "backup" }
    /// The tier limit (`limits:`) that bounds it, in GB (10^9 bytes); -1 or absent: unlimited.
    public var limit: String { self == .cloud ? "cloud_storage_gb" : "backup_gb" }
    /// The same in MB (10^6 bytes), which wins when a tier states both.
    public var limitMB: String { self == .cloud ? "cloud_storage_mb" : "backup_mb" }
    var column: String { self == .cloud ? "records_bytes" : "backup_bytes" }
    var code: String { self == .cloud ? "cloud_storage_quota_exceeded" : "backup_quota_exceeded" }
}

public struct ClientStorageSettings: Sendable {
    /// The largest record (decoded), in bytes.
    public var maxRecordBytes: Int64 = 16 * 1024 * 1024
    /// The largest backup, in bytes.
    public var maxBackupBytes: Int64 = 64 * 1024 * 1024 * 1024

    public init() {}
}
