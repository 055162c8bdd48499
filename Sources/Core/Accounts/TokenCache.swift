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

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func get(_ token: String, now: Date) -> Claims? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            if entry.expiresAt <= now {
                entries[token] = nil
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
            entries[token] = Entry(claims: claims, expiresAt: expiresAt)
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
