import Crypto
import Foundation
import NIOCore

/// Where opaque bytes live (the client's encrypted records and backups): the metadata is in the database, the bytes
/// here. A write is staged first (its size and SHA-256 known once the bytes are in), then committed under its key, or
/// discarded; a staged or committed object whose metadata never made it is what `switchboard storage gc` removes.
public protocol BlobStore: Sendable {
    /// Writes `chunks` somewhere no reader sees, up to `maxBytes` (beyond: `BlobError.tooLarge`, nothing kept).
    func stage(_ chunks: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> StagedBlob
    /// Puts a staged object under `key`, replacing what was there.
    func commit(_ staged: StagedBlob, as key: BlobKey) async throws
    /// Forgets a staged object.
    func discard(_ staged: StagedBlob) async
    /// The object's bytes as chunks, or nil when there is none.
    func read(_ key: BlobKey) async throws -> BlobRead?
    /// Removes an object; removing one that is not there is no error.
    func delete(_ key: BlobKey) async throws
    /// Every committed key under `prefix` and when it was written, and the staged objects older than `staleAfter`
    /// (for the garbage collector).
    func inventory(staleAfter: Date) async throws -> (objects: [(key: BlobKey, modified: Date)], staleStaged: [StagedBlob])
}

/// A staged write: where it is, how big, and the SHA-256 of its bytes.
public struct StagedBlob: Sendable {
    public let location: String
    public let bytes: Int64
    public let sha256: [UInt8]

    public init(location: String, bytes: Int64, sha256: [UInt8]) {
        self.location = location
        self.bytes = bytes
        self.sha256 = sha256
    }

    /// Whether `checksum` (hex, any case) is the SHA-256 of the bytes, compared in constant time.
    public func matches(_ checksum: String) -> Bool {
        BlobChecksum.matches(sha256, checksum)
    }
}

/// An object to read: its size, and its bytes handed to a consumer chunk by chunk, each read only once the consumer
/// has taken the one before (a slow client holds the reading back; nothing piles up in memory).
public struct BlobRead: Sendable {
    public let bytes: Int64
    let produce: @Sendable (_ consume: (ByteBuffer) async throws -> Void) async throws -> Void

    public init(bytes: Int64, produce: @escaping @Sendable (_ consume: (ByteBuffer) async throws -> Void) async throws -> Void) {
        self.bytes = bytes
        self.produce = produce
    }

    /// Hands every chunk to `consume`, in order.
    public func forEach(_ consume: (ByteBuffer) async throws -> Void) async throws {
        try await produce(consume)
    }
}

public enum BlobError: Error, Sendable {
    case tooLarge(limit: Int64)
}

/// An object's key: `{user_id}/{table}/{record_id}` or `{user_id}/backups/{timestamp}`. Every part is checked to be a
/// plain name, so no key can reach outside its user's prefix, whatever a client sends.
public struct BlobKey: Sendable, Hashable, CustomStringConvertible {
    public let parts: [String]

    public init?(_ parts: [String]) {
        guard parts.count == 3, parts.allSatisfy(Self.isPart) else { return nil }
        self.parts = parts
    }

    public init?(path: String) {
        self.init(path.split(separator: "/", omittingEmptySubsequences: false).map(String.init))
    }

    public var description: String { parts.joined(separator: "/") }
    public var userID: String { parts[0] }

    /// 1 to 100 characters of `a-z A-Z 0-9 _ -`, not starting with `-`.
    public static func isPart(_ part: String) -> Bool {
        let bytes = Array(part.utf8)
        return (1...100).contains(bytes.count) && bytes[0] != UInt8(ascii: "-") && bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

public enum BlobChecksum {
    /// Whether the hex `checksum` (any case) is `digest`, in time independent of where they differ.
    public static func matches(_ digest: [UInt8], _ checksum: String) -> Bool {
        constantTimeEqual(Array(checksum.lowercased().utf8), Array(digest.hexString.utf8))
    }
}
