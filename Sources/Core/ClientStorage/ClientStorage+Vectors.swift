import Crypto
import Foundation
import LLM
import NIOCore
import SQLKit
import Storage

/// Vectors: an opaque blob under `{user_id}/vectors/{id}` with a vector to find it by: one the client computed (and
/// may have transformed), or, without one, 32 numbers derived from the blob's SHA-256, which only finds identical
/// blobs. What the server learns from client vectors is their neighbourhoods (which blobs lie close to which), not
/// their text. Searched exactly as memories are (`UserVectors`), counted toward cloud storage with records.
extension ClientStorage {
    public struct VectorUpload: Sendable {
        public let id: String
        public let bytes: ByteBuffer
        public let checksum: String
        public let vector: [Float]?

        public init(id: String, bytes: ByteBuffer, checksum: String, vector: [Float]?) {
            self.id = id
            self.bytes = bytes
            self.checksum = checksum
            self.vector = vector
        }
    }

    public static let maxVectorBatch = 100
    public static let maxDimensions = 4_096
    public static let fallbackDimensions = 32

    /// A client's vector id: a plain name (1 to 100 of `a-z A-Z 0-9 _ -`).
    public static func isVectorID(_ id: String) -> Bool { BlobKey.isPart(id) }

    /// The fallback vector of a blob: each byte of its SHA-256 mapped to [-1, 1], unit length.
    public static func fallbackVector(_ bytes: ByteBuffer) -> [Float] {
        let digest = bytes.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)) }
        return Embedder.normalized(digest.map { Float($0) / 127.5 - 1 })
    }

    static func vectorKey(user: UUID, id: String) -> BlobKey {
        BlobKey([user.lowercased, "vectors", id])!
    }

    /// Stores or replaces each vector; every checksum is checked before anything is kept, and the batch is counted in
    /// one transaction. Returns how many were stored.
    public func upsertVectors(user: User, _ uploads: [VectorUpload]) async throws -> Int {
        let limit = try limit(.cloud, user: user)
        var staged: [StagedBlob] = []
        do {
            for upload in uploads {
                let blob = try await blobs.stage(Self.single(upload.bytes), maxBytes: maxRecordBytes)
                staged.append(blob)
                guard blob.matches(upload.checksum) else { throw Self.checksumMismatch() }
            }
            let now = clock.now
            let checked = staged
            try await db.transaction { sql in
                var delta: Int64 = 0
                for (upload, blob) in zip(uploads, checked) {
                    let vector = Embedder.normalized(upload.vector ?? Self.fallbackVector(upload.bytes))
                    if let row = try await sql.raw("""
                        SELECT size_bytes FROM client_vectors WHERE user_id = \(bind: user.id.lowercased) AND id = \(bind: upload.id)
                        """).first() {
                        delta -= try row.decode(column: "size_bytes", as: Int64.self)
                    }
                    delta += blob.bytes
                    try await sql.raw("""
                        INSERT INTO client_vectors (user_id, id, checksum, size_bytes, vector, dimensions, created_at, updated_at)
                        VALUES (\(bind: user.id.lowercased), \(bind: upload.id), \(bind: blob.sha256.hexString), \(bind: blob.bytes),
                                \(bind: MemoryStore.encode(vector)), \(bind: Int64(vector.count)), \(bind: now.millis), \(bind: now.millis))
                        ON CONFLICT (user_id, id) DO UPDATE SET checksum = excluded.checksum, size_bytes = excluded.size_bytes,
                            vector = excluded.vector, dimensions = excluded.dimensions, updated_at = excluded.updated_at
                        """).run()
                }
                try await Self.account(delta, .cloud, limit: limit, user: user.id, on: sql)
            }
        } catch {
            for blob in staged { await blobs.discard(blob) }
            throw error
        }
        for (upload, blob) in zip(uploads, staged) { try await blobs.commit(blob, as: Self.vectorKey(user: user.id, id: upload.id)) }
        return uploads.count
    }

    /// The `limit` vectors closest to the query (the client's vector, or the fallback of `blob`) among the user's
    /// vectors of its length, with their blobs.
    public func searchVectors(user: User, query: [Float], limit: Int) async throws -> [(id: String, score: Float, bytes: ByteBuffer)] {
        let query = Embedder.normalized(query)
        let rows = try await db.all("""
            SELECT id, vector FROM client_vectors WHERE user_id = \(bind: user.id.lowercased) AND dimensions = \(bind: Int64(query.count))
            """)
        var index = UserVectors(dimensions: query.count)
        var ids: [String] = []
        // Results are found by their row (`ids`), so one entry stands for every vector: no new id for each.
        let entry = UserVectors.Entry(id: UUID.random(), namespace: "", tags: [], folded: "")
        for row in rows {
            ids.append(try row.decode(column: "id", as: String.self))
            index.append(entry, vector: MemoryStore.decode(try row.decode(column: "vector", as: String.self)))
        }
        var results: [(id: String, score: Float, bytes: ByteBuffer)] = []
        for (row, score) in index.top(query, limit: limit) {
            guard let read = try await blobs.read(Self.vectorKey(user: user.id, id: ids[row])) else { continue }
            var bytes = ByteBuffer()
            try await read.forEach { chunk in var chunk = chunk; bytes.writeBuffer(&chunk) }
            results.append((ids[row], score, bytes))
        }
        return results
    }

    /// Deletes the user's vectors of these ids (ids that are not there are no error).
    public func deleteVectors(user: User, ids: [String]) async throws {
        let removed = try await db.transaction { sql -> [String] in
            var removed: [String] = []
            var freed: Int64 = 0
            for id in ids {
                guard let row = try await sql.raw("""
                    DELETE FROM client_vectors WHERE user_id = \(bind: user.id.lowercased) AND id = \(bind: id) RETURNING size_bytes
                    """).first() else { continue }
                freed += try row.decode(column: "size_bytes", as: Int64.self)
                removed.append(id)
            }
            if freed > 0 { try await Self.account(-freed, .cloud, limit: nil, user: user.id, on: sql) }
            return removed
        }
        for id in removed { try await blobs.delete(Self.vectorKey(user: user.id, id: id)) }
    }
}
