import Foundation
import Storage
import Synchronization

/// The identities of live sessions as last read, for the session look-up that every authenticated request makes.
///
/// An entry answers only while nothing it was read from can have changed: the count of commits to `sessions` and
/// `users` (`Database.version(of:)`), which every Switchboard process on the machine moves as it commits a logout, a
/// revocation, a refresh, a profile or tier change, is what it was when the entry was read; the session is still
/// within its expiry and its inactivity limit now; and the entry is younger than `maxAgeMillis`. So a session is
/// still checked on every request, and a logout in any process takes effect on the next request in every other one.
///
/// What moves no count is seen only when an entry grows too old (`auth.session_cache_ms`, a second by default): an
/// edit made outside Switchboard (in the `sqlite3` shell, say), a commit by a Switchboard too old to count, and a
/// commit whose process was killed between the commit and the count.
///
/// Only SQLite keeps such counts (a file that every process on the machine maps); on PostgreSQL, which processes on
/// other machines write, there is no cache and every request reads the session.
final class SessionCache: Sendable {
    /// What the session look-up reads.
    static let tables = ["sessions", "users"]
    /// Entries kept at most; past this the cache starts again, so a flood of distinct sessions cannot grow it.
    static let limit = 10_000
    /// How long an entry answers at most, whatever the counts say.
    private let maxAgeMillis: Int64

    private struct Entry {
        let identity: Identity
        let expiresAt: Int64
        let refreshedAt: Int64
        /// The count when the rows were read, and when (milliseconds since 1970).
        let version: UInt64
        let readAt: Int64
    }

    private let version: TableVersion
    private let entries = Mutex<[UUID: Entry]>([:])

    /// A cache for `database`, or nil when its engine keeps no counts of changes.
    init?(database: any Database, maxAgeMillis: Int64) {
        guard let version = database.version(of: Self.tables) else { return nil }
        self.version = version
        self.maxAgeMillis = maxAgeMillis
    }

    /// The count to read the session under: taken before the read, so a change committed during it makes the entry
    /// stale rather than hide behind it.
    func currentVersion() -> UInt64 {
        version.current()
    }

    /// The identity of `session` of `user` if it was read under the current count and is live at `now` (milliseconds)
    /// for a session last refreshed after `oldestRefresh`, as the look-up's own condition has it.
    func identity(session: UUID, user: UUID, now: Int64, oldestRefresh: Int64) -> Identity? {
        let current = version.current()
        return entries.withLock { entries in
            guard let entry = entries[session], entry.version == current, entry.identity.user.id == user,
                  entry.expiresAt > now, entry.refreshedAt > oldestRefresh,
                  now >= entry.readAt, now - entry.readAt < maxAgeMillis else { return nil }
            return entry.identity
        }
    }

    /// Keeps `identity`, read under `version` at `now`, with its session's expiry and last refresh.
    func keep(_ identity: Identity, session: UUID, expiresAt: Int64, refreshedAt: Int64, version: UInt64, now: Int64) {
        let entry = Entry(identity: identity, expiresAt: expiresAt, refreshedAt: refreshedAt, version: version, readAt: now)
        entries.withLock { entries in
            if entries.count >= Self.limit { entries.removeAll(keepingCapacity: true) }
            entries[session] = entry
        }
    }
}
