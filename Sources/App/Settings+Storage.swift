import Core
import Foundation

/// The keys `storage.*`: where a blueprint's client-encrypted storage keeps its bytes, and how big a record or a
/// backup may be.
extension Settings {
    mutating func readStorage(_ keys: SettingsReader) {
        if let blobs = keys.string("storage.blobs"), blobs != "file" {
            keys.problem("storage.blobs must be file")
        }
        storage.maxRecordBytes = Int64(keys.int("storage.max_record_mb", Int(storage.maxRecordBytes >> 20), 1...1024)) << 20
        storage.maxBackupBytes = Int64(keys.int("storage.max_backup_mb", Int(storage.maxBackupBytes >> 20), 1...(1 << 24))) << 20
    }

    /// `<data.dir>/blobs` unless `storage.dir` says otherwise.
    public var blobDirectory: String { storageDirectory ?? dataDirectory + "/blobs" }
}
