import Foundation
import Synchronization

/// Tokens whose signature has already been verified, with their claims, until they expire.
///
/// Verifying a signature costs about 100 µs; an access token is presented many times in its 15 minutes. A hit still
/// goes through every other check (expiry, session). Only tokens that verified are stored, so the cache cannot be
/// filled with junk; when full it drops expired entries, then everything.
final class TokenCache<Claims: Sendable>: Sendable {
    private struct Entry {
        let claims: Claims
        let expiresAt: Date
    }

    /// A token as a key: hashed by its last 32 bytes, compared whole. A JWT ends in its signature, so its tail
    /// already tells tokens apart, where hashing all 300-odd bytes of the token cost 2,600 instructions a request.
    /// Tails that collide cost one comparison more: only verified tokens are stored, one per signature.
    private struct Key: Hashable {
        let token: String

        func hash(into hasher: inout Hasher) {
            let utf8 = token.utf8
            let hashed = utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0.suffix(32)))) }
            if hashed == nil { utf8.suffix(32).forEach { hasher.combine($0) } }
        }
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func get(_ token: String, now: Date) -> Claims? {
        entries.withLock { entries in
            let key = Key(token: token)
            guard let entry = entries[key] else { return nil }
            if entry.expiresAt <= now {
                entries[key] = nil
                return nil
            }
            return entry.claims
        }
    }

    func put(_ token: String, _ claims: Claims, expiresAt: Date, now: Date) {
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expiresAt > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[Key(token: token)] = Entry(claims: claims, expiresAt: expiresAt)
        }
    }
}

/// The JOSE header of a compact JWT, read before any verification so that the algorithm can be checked against the
/// allow-list: a token is never verified with an algorithm the server did not choose.
struct JOSEHeader: Decodable {
    let alg: String?
    let kid: String?

    init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URLEncoded: parts[0]),
              let header = try? JSONDecoder().decode(JOSEHeader.self, from: data) else { return nil }
        self = header
    }
}
