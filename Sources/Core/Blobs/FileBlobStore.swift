import Crypto
import Foundation
import NIOCore
import _NIOFileSystem

/// Objects as files under one directory (`<data.dir>/blobs`): a write goes to `.staging/` first, is fsynced, and is
/// renamed into place, so a reader sees the old bytes or the new, never part of either, and a crash leaves at most
/// a staged file for the garbage collector.
public struct FileBlobStore: BlobStore {
    public let root: String
    var staging: String { root + "/.staging" }

    public init(root: String) {
        self.root = root
    }

    func path(_ key: BlobKey) -> String { root + "/" + key.description }

    public func stage(_ chunks: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> StagedBlob {
        try await FileSystem.shared.createDirectory(at: FilePath(staging), withIntermediateDirectories: true, permissions: nil)
        let location = staging + "/" + UUID.random().lowercased
        var hasher = SHA256()
        var written: Int64 = 0
        do {
            try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(location), options: .newFile(replaceExisting: false)) { handle in
                try await handle.withBufferedWriter(capacity: .mebibytes(1)) { writer in
                    for try await chunk in chunks {
                        written += Int64(chunk.readableBytes)
                        guard written <= maxBytes else { throw BlobError.tooLarge(limit: maxBytes) }
                        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        _ = try await writer.write(contentsOf: chunk)
                    }
                }
                try await handle.synchronize()
            }
        } catch {
            _ = try? await FileSystem.shared.removeItem(at: FilePath(location))
            throw error
        }
        return StagedBlob(location: location, bytes: written, sha256: Array(hasher.finalize()))
    }

    public func commit(_ staged: StagedBlob, as key: BlobKey) async throws {
        let target = path(key)
        let directory = (target as NSString).deletingLastPathComponent
        try await FileSystem.shared.createDirectory(at: FilePath(directory), withIntermediateDirectories: true, permissions: nil)
        // rename(2) replaces the target atomically.
        guard rename(staged.location, target) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot move a staged object into place (errno \(errno))"])
        }
    }

    public func discard(_ staged: StagedBlob) async {
        _ = try? await FileSystem.shared.removeItem(at: FilePath(staged.location))
    }

    public func read(_ key: BlobKey) async throws -> BlobRead? {
        let path = path(key)
        guard let info = try await FileSystem.shared.info(forFileAt: FilePath(path)) else { return nil }
        return BlobRead(bytes: info.size) { consume in
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                for try await chunk in handle.readChunks(chunkLength: .kibibytes(256)) { try await consume(chunk) }
            }
        }
    }

    public func delete(_ key: BlobKey) async throws {
        _ = try await FileSystem.shared.removeItem(at: FilePath(path(key)))
    }

    public func inventory(staleAfter: Date) async throws -> (objects: [(key: BlobKey, modified: Date)], staleStaged: [StagedBlob]) {
        let manager = FileManager.default
        var objects: [(key: BlobKey, modified: Date)] = []
        var stale: [StagedBlob] = []
        guard let walker = manager.enumerator(at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.contentModificationDateKey, .isRegularFileKey]) else {
            return ([], [])
        }
        for case let url as URL in walker {
            let values = try url.resourceValues(forKeys: [.contentModificationDateKey, .isRegularFileKey])
            guard values.isRegularFile == true else { continue }
            let modified = values.contentModificationDate ?? .distantPast
            let relative = String(url.path.dropFirst(URL(fileURLWithPath: root).path.count + 1))
            if relative.hasPrefix(".staging/") {
                if modified < staleAfter { stale.append(StagedBlob(location: url.path, bytes: 0, sha256: [])) }
            } else if let key = BlobKey(path: relative) {
                objects.append((key, modified))
            }
        }
        return (objects, stale)
    }
}
