import Foundation
import SQLKit
import Storage
import Synchronization

/// Totals of list queries, remembered under the version of the app's data they were counted at, and served while
/// that version stands.
///
/// A page of 20 is read off an index in a tenth of a millisecond, but its `total` counts every matching record
/// (tens of thousands of index entries: milliseconds). The version moves with every committed write to the app's
/// collections:
/// - On SQLite every write goes through this one process: the version is a generation this process moves on after
///   each write transaction.
/// - On PostgreSQL other processes write too: every write transaction adds one to a row of `blueprint_versions`
///   (one of 16, picked at random, so concurrent writers rarely wait on each other), and the version is their sum,
///   read with the page, before counting. A snapshot sees every commit an earlier one saw, and each commit raises
///   the sum, so equal sums mean the same commits: a total is never served after a write it does not include. A
///   count that races a write is stored under the older version, which no later reader sees again.
/// Writes made outside Switchboard (an operator's SQL) are seen after the next write through it.
public final class CountCache: Sendable {
    static let capacity = 1_000
    static let shards = 16
    private let state = Mutex<(generation: Int64, totals: [String: (version: Int64, total: Int64)])>((0, [:]))

    public init() {}

    /// The remembered total for a query at this version of the data.
    func total(for key: String, at version: Int64) -> Int64? {
        state.withLock { state in
            guard let entry = state.totals[key], entry.version == version else { return nil }
            return entry.total
        }
    }

    func remember(_ total: Int64, for key: String, at version: Int64) {
        state.withLock { state in
            if state.totals.count >= Self.capacity { state.totals.removeAll(keepingCapacity: true) }
            state.totals[key] = (version, total)
        }
    }

    /// The version of the data on SQLite, where this process makes every write.
    var localVersion: Int64 { state.withLock { $0.generation } }

    /// The version of the app's data on PostgreSQL, as a scalar subquery: counts taken after reading it include
    /// every write it covers.
    static func versionQuery(app: String) -> SQLQueryString {
        "(SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM blueprint_versions WHERE app = \(bind: app))"
    }

    /// In a write transaction on PostgreSQL, last (the row stays locked until commit): the write moves the version on.
    static func bump(app: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO blueprint_versions (app, shard, version) VALUES (\(bind: app), \(bind: Int.random(in: 0..<shards)), 1)
            ON CONFLICT (app, shard) DO UPDATE SET version = blueprint_versions.version + 1
            """).run()
    }

    /// After a write transaction ended here: on SQLite, the version moves on (and what was remembered goes).
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
