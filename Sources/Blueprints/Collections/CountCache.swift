import Foundation
import SQLKit
import Synchronization

/// Totals of list queries, remembered until the next write to the app's collections.
///
/// A page of 20 is read off an index in a tenth of a millisecond, but its `total` counts every matching record
/// (tens of thousands of index entries: milliseconds). On SQLite every write goes through this one process, so a
/// total stays exact until this process writes again: each committed write moves the generation on, which
/// forgets every total. (A count that races a write is stored under the older generation, so it is never served
/// after the write.) PostgreSQL may be written by other processes: there totals are always counted.
public final class CountCache: Sendable {
    static let capacity = 1_000
    private let state = Mutex<(generation: UInt64, totals: [String: (generation: UInt64, total: Int64)])>((0, [:]))

    public init() {}

    /// The remembered total for a query, if no write came since it was counted.
    func total(for key: String) -> Int64? {
        state.withLock { state in
            guard let entry = state.totals[key], entry.generation == state.generation else { return nil }
            return entry.total
        }
    }

    /// The generation a count starts under: store its result with it.
    var generation: UInt64 { state.withLock { $0.generation } }

    func remember(_ total: Int64, for key: String, counted generation: UInt64) {
        state.withLock { state in
            if state.totals.count >= Self.capacity { state.totals.removeAll(keepingCapacity: true) }
            state.totals[key] = (generation, total)
        }
    }

    /// After a write commits: every remembered total may be wrong now.
    func written() {
        state.withLock { state in
            state.generation &+= 1
            state.totals.removeAll(keepingCapacity: true)
        }
    }

    /// A key for a query: its SQL text and its bound values.
    static func key(_ query: SQLQueryString, on database: any SQLDatabase) -> String {
        var serializer = SQLSerializer(database: database)
        query.serialize(to: &serializer)
        return serializer.sql + "\u{0}" + serializer.binds.map { String(describing: $0) }.joined(separator: "\u{0}")
    }
}
