import Core
import Crypto
import Foundation
import NIOCore

/// Objects in an S3-compatible bucket, for several Switchboard processes sharing one PostgreSQL: a write is uploaded
/// under `.staging/` (in parts of 8 MiB past the first, so memory stays flat whatever the size) while its SHA-256
/// is computed, then copied to its key and the staged object deleted; a failed upload is aborted.
public struct S3BlobStore: BlobStore {
    public static let partBytes = 8 * 1024 * 1024
    /// One copy moves at most 5 GB.
    public static let maxObjectBytes: Int64 = 5_000_000_000

    let client: S3Client

    public init(client: S3Client) {
        self.client = client
    }

    public func stage(_ chunks: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> StagedBlob {
        let location = ".staging/" + UUID.random().lowercased
        let limit = min(maxBytes, Self.maxObjectBytes)
        var hasher = SHA256()
        var written: Int64 = 0
        var part = ByteBuffer()
        var uploadID: String?
        var etags: [String] = []
        do {
            for try await chunk in chunks {
                written += Int64(chunk.readableBytes)
                guard written <= limit else { throw BlobError.tooLarge(limit: limit) }
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                var chunk = chunk
                part.writeBuffer(&chunk)
                if part.readableBytes >= Self.partBytes {
                    if uploadID == nil { uploadID = try await client.createMultipartUpload(location) }
                    etags.append(try await client.uploadPart(location, uploadID: uploadID!, number: etags.count + 1, part))
                    part.clear()
                }
            }
            if let uploadID {
                if part.readableBytes > 0 || etags.isEmpty {
                    etags.append(try await client.uploadPart(location, uploadID: uploadID, number: etags.count + 1, part))
                }
                try await client.completeMultipartUpload(location, uploadID: uploadID, etags: etags)
            } else {
                try await client.put(location, part)
            }
        } catch {
            if let uploadID { await client.abortMultipartUpload(location, uploadID: uploadID) }
            try? await client.delete(location)
            throw error
        }
        return StagedBlob(location: location, bytes: written, sha256: Array(hasher.finalize()))
    }

    public func commit(_ staged: StagedBlob, as key: BlobKey) async throws {
        try await client.copy(from: staged.location, to: key.description)
        try? await client.delete(staged.location)
    }

    public func discard(_ staged: StagedBlob) async {
        try? await client.delete(staged.location)
    }

    public func read(_ key: BlobKey) async throws -> BlobRead? {
        guard let (bytes, body) = try await client.get(key.description) else { return nil }
        return BlobRead(bytes: bytes) { consume in
            for try await chunk in body { try await consume(chunk) }
        }
    }

    public func delete(_ key: BlobKey) async throws {
        try await client.delete(key.description)
    }

    public func inventory(staleAfter: Date) async throws -> (objects: [(key: BlobKey, modified: Date)], staleStaged: [StagedBlob]) {
        var objects: [(key: BlobKey, modified: Date)] = []
        var stale: [StagedBlob] = []
        for (name, modified) in try await client.list() {
            if name.hasPrefix(".staging/") {
                if modified < staleAfter { stale.append(StagedBlob(location: name, bytes: 0, sha256: [])) }
            } else if let key = BlobKey(path: name) {
                objects.append((key, modified))
            }
        }
        return (objects, stale)
    }
}
