import Connectors
import Core
import Foundation

/// The keys `storage.*`: where a blueprint's client-encrypted storage keeps its bytes (the file system, or an
/// S3-compatible bucket when several processes share a PostgreSQL), and how big a record or a backup may be.
extension Settings {
    public struct S3Storage: Sendable {
        public var endpoint: String
        public var bucket: String
        public var region = "us-east-1"
        public var pathStyle = true
        public var accessKey: String
        public var secretKey: String

        public init(endpoint: String, bucket: String, region: String = "us-east-1", pathStyle: Bool = true, accessKey: String, secretKey: String) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.region = region
            self.pathStyle = pathStyle
            self.accessKey = accessKey
            self.secretKey = secretKey
        }
    }

    mutating func readStorage(_ keys: SettingsReader) {
        storage.maxRecordBytes = Int64(keys.int("storage.max_record_mb", Int(storage.maxRecordBytes >> 20), 1...1024)) << 20
        storage.maxBackupBytes = Int64(keys.int("storage.max_backup_mb", Int(storage.maxBackupBytes >> 20), 1...(1 << 24))) << 20
        switch keys.string("storage.blobs") ?? "file" {
        case "file":
            s3 = nil
        case "s3":
            let endpoint = keys.string("storage.s3.endpoint") ?? ""
            let bucket = keys.string("storage.s3.bucket") ?? ""
            if URL(string: endpoint)?.host == nil { keys.problem("storage.s3.endpoint must be the store's URL, e.g. https://s3.eu-west-1.amazonaws.com") }
            if bucket.isEmpty { keys.problem("storage.s3.bucket is required with storage.blobs=s3") }
            let accessEnv = keys.string("storage.s3.access_key_env") ?? "AWS_ACCESS_KEY_ID"
            let secretEnv = keys.string("storage.s3.secret_key_env") ?? "AWS_SECRET_ACCESS_KEY"
            let access = keys.secret(environmentVariable: accessEnv) ?? ""
            let secret = keys.secret(environmentVariable: secretEnv) ?? ""
            if access.isEmpty || secret.isEmpty { keys.problem("storage.blobs=s3 needs the keys in \(accessEnv) and \(secretEnv)") }
            s3 = S3Storage(endpoint: endpoint, bucket: bucket, region: keys.string("storage.s3.region") ?? "us-east-1",
                           pathStyle: keys.bool("storage.s3.path_style", true), accessKey: access, secretKey: secret)
        default:
            keys.problem("storage.blobs must be file or s3")
        }
    }

    /// `<data.dir>/blobs` unless `storage.dir` says otherwise.
    public var blobDirectory: String { storageDirectory ?? dataDirectory + "/blobs" }

    /// The configured blob store.
    public func blobStore() -> any BlobStore {
        guard let s3 else { return FileBlobStore(root: blobDirectory) }
        return S3BlobStore(client: S3Client(.init(endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, pathStyle: s3.pathStyle),
                                            accessKey: s3.accessKey, secretKey: s3.secretKey))
    }
}
