import Core
import Foundation
import LLM
import SQLKit
import Storage
import Synchronization

/// One change a subscriber is told about: `created` and `updated` with the record as the subscriber may see it,
/// `deleted` and `left` (an update moved the record out of what the subscriber sees) with its id.
public struct RecordEvent: Sendable, Equatable {
    public let name: String
    public let data: JSONValue
}

extension CollectionStore {
    /// Writes a change, with the record before and after it, to `record_events` in the write's transaction, so every
    /// process learns of it after commit.
    func recordEvent(_ event: String, id: String, before: JSONValue?, after: JSONValue?, now: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO record_events (app, collection, event, record_id, before, after, created_at)
            VALUES (\(bind: blueprint.name), \(bind: collection.name), \(bind: event), \(bind: id),
                    \(bind: before?.jsonString), \(bind: after?.jsonString), \(bind: now))
            """).run()
    }

    /// Whether `caller` sees `record` under `filter`: ownership, the view rule, the filter; evaluated in memory with
    /// exactly the meaning they have in SQL.
    func sees(_ record: JSONValue, as access: CollectionAccess, filter: FilterExpression?) -> Bool {
        switch collection.owner {
        case .user: if record["owner_id"]?.stringValue != access.caller.id { return false }
        case .team: if !access.caller.teams.contains(record["team_id"]?.stringValue ?? "") { return false }
        case .shared: break
        }
        let match = FilterMatch(collection: collection)
        if let view = try? access.expression(.view), !match.matches(view, record) { return false }
        return filter.map { match.matches($0, record) } ?? true
    }

    /// A realtime filter may not compare fields the caller cannot read in every record (in SQL such comparisons are
    /// guarded by the read rule; in memory they would tell what the rule hides).
    public func checkRealtime(_ filter: FilterExpression, caller: Caller) throws(AppError) {
        let access = access(caller)
        for field in filter.fields.sorted() where !access.readsEverywhere(field) {
            throw FilterSQL.invalid("filter", "a realtime filter cannot use \(field): some records do not show it to you")
        }
    }
}

/// Realtime: subscribers of every collection in this process, fed from `record_events`, which every process's
/// writes fill. Each change is checked again for each subscriber (ownership, the view rule and their filter, in SQL
/// for the record as it is now), so nobody is told about a record they may not see.
///
/// The table is read in a sliding window (the last `window` of changes, each delivered once), not from a cursor:
/// on PostgreSQL, transactions commit in another order than they started, and a cursor would skip the late ones.
public final class RecordFeed: Sendable {
    struct Subscriber: Sendable {
        let store: CollectionStore
        var caller: Caller
        let filter: FilterExpression?
        let continuation: AsyncStream<RecordEvent>.Continuation
        /// The changes already in the window when the subscription began: a subscriber hears what comes after.
        let earlier: Set<Int64>
    }

    public static let window: Int64 = 5_000
    /// Changes are kept this long (milliseconds), then pruned.
    public static let retention: Int64 = 600_000
    /// A subscriber that reads slower than this many events behind is dropped (its stream ends).
    static let buffer = 1_000

    let blueprint: Blueprint
    let db: any Database
    let clock: WallClock
    private let state = Mutex<(subscribers: [UUID: Subscriber], delivered: [String: Int64])>(([:], [:]))

    public init(blueprint: Blueprint, db: any Database, clock: WallClock) {
        self.blueprint = blueprint
        self.db = db
        self.clock = clock
    }

    /// Events of `store`'s collection that `caller` may see, filtered, from now on; ends when the feed drops the
    /// subscriber.
    public func subscribe(_ store: CollectionStore, caller: Caller, filter: FilterExpression?) async throws -> AsyncStream<RecordEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: RecordEvent.self, bufferingPolicy: .bufferingNewest(Self.buffer))
        let rows = try await db.all("""
            SELECT seq FROM record_events WHERE app = \(bind: blueprint.name) AND created_at >= \(bind: clock.now.millis - Self.window)
            """)
        let earlier = Set(try rows.map { try $0.decode(column: "seq", as: Int64.self) })
        let id = UUID.random()
        state.withLock {
            $0.subscribers[id] = Subscriber(store: store, caller: caller, filter: filter, continuation: continuation, earlier: earlier)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every subscriber's stream (at shutdown, so that open streams do not hold it up).
    public func finishAll() {
        for subscriber in state.withLock({ Array($0.subscribers.values) }) { subscriber.continuation.finish() }
    }

    /// Reads the changes of the last few seconds not delivered yet and tells each subscriber what concerns them.
    public func poll() async throws {
        var subscribers = state.withLock { Array($0.subscribers.values) }
        guard !subscribers.isEmpty else { return }
        let now = clock.now.millis
        let rows = try await db.all("""
            SELECT seq, collection, event, record_id, before, after FROM record_events
            WHERE app = \(bind: blueprint.name) AND created_at >= \(bind: now - Self.window) ORDER BY seq
            """)
        if !rows.isEmpty { try await loadTeams(&subscribers) }
        for row in rows {
            let number = try row.decode(column: "seq", as: Int64.self)
            let seq = String(number)
            let fresh = state.withLock { state -> Bool in
                guard state.delivered[seq] == nil else { return false }
                state.delivered[seq] = now
                return true
            }
            guard fresh else { continue }
            let collection = try row.decode(column: "collection", as: String.self)
            let event = try row.decode(column: "event", as: String.self)
            let recordID = try row.decode(column: "record_id", as: String.self)
            func json(_ column: String) throws -> JSONValue? {
                try row.decodeNil(column: column) ? nil : JSONValue.parse(try row.decode(column: column, as: String.self))
            }
            let before = try json("before")
            let after = try json("after")
            for subscriber in subscribers where subscriber.store.collection.name == collection && !subscriber.earlier.contains(number) {
                if let message = message(event, recordID: recordID, before: before, after: after, for: subscriber) {
                    subscriber.continuation.yield(message)
                }
            }
        }
        state.withLock { state in state.delivered = state.delivered.filter { now - $0.value <= 2 * Self.window } }
    }

    /// The teams of the subscribers to team-owned collections, as they are now: someone who left a team stops
    /// hearing about its records at once.
    private func loadTeams(_ subscribers: inout [Subscriber]) async throws {
        let callers = Set(subscribers.filter { $0.store.collection.owner == .team }.map(\.caller.id))
        guard !callers.isEmpty else { return }
        let rows = try await db.all("SELECT user_id, team_id FROM team_members WHERE user_id IN (\(binds: callers.sorted()))")
        var teams: [String: Set<String>] = [:]
        for row in rows {
            teams[try row.decode(column: "user_id", as: String.self), default: []].insert(try row.decode(column: "team_id", as: String.self))
        }
        for index in subscribers.indices where subscribers[index].store.collection.owner == .team {
            subscribers[index].caller.teams = teams[subscribers[index].caller.id] ?? []
        }
    }

    /// What one change means to one subscriber: the record as they see it when they see it after the change, `left`
    /// when they saw it before and no longer do, `deleted` when they saw it; otherwise nothing.
    private func message(_ event: String, recordID: String, before: JSONValue?, after: JSONValue?, for subscriber: Subscriber) -> RecordEvent? {
        let store = subscriber.store
        let access = store.access(subscriber.caller)
        let sawBefore = before.map { store.sees($0, as: access, filter: subscriber.filter) } ?? false
        if let after, store.sees(after, as: access, filter: subscriber.filter) {
            return RecordEvent(name: event, data: access.readable(after))
        }
        if sawBefore { return RecordEvent(name: event == "deleted" ? "deleted" : "left", data: ["id": .string(recordID)]) }
        return nil
    }

    /// Drops changes older than `retention`.
    public func prune() async throws {
        try await db.run("DELETE FROM record_events WHERE app = \(bind: blueprint.name) AND created_at < \(bind: clock.now.millis - Self.retention)")
    }
}
