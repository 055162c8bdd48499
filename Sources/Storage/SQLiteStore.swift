import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
import VaporCSQLite

/// SQLite: one connection in WAL mode with foreign keys on, and read connections beside it. A statement runs on the
/// caller's thread when the connection is free, otherwise on the connection's own thread; transactions exclude other
/// statements (`TransactionGate`). A plain query (`SELECT` or `WITH` outside any transaction) runs on a free read
/// connection instead, on the caller's thread: WAL lets readers run beside the writer, and each sees the last commit,
/// as a query on PostgreSQL sees every committed transaction and none that is under way.
final class SQLiteStore: Database {
    let engine = Engine.sqlite
    let sql: any SQLDatabase
    private let connection: SQLiteHandle
    private let readers: [SQLiteHandle]
    /// As many as there are threads to run requests: the event loops, whose tasks then rarely find all of them taken.
    private static let readerCount = max(2, System.coreCount)
    private let raw: SQLiteRows
    private let gate: TransactionGate
    private let closed = Atomic(false)
    /// The connection's own thread: SQLite calls block, and must not wait behind (or stall) other work on the shared
    /// pool, such as bcrypt hashing. One thread runs statements in the order they are handed to it.
    private let threadPool: NIOThreadPool
    /// Moved by the connection that writes, in this process and every other one that has the file open.
    private let changes: ChangeCounters

    private init(connection: SQLiteHandle, readers: [SQLiteHandle], threadPool: NIOThreadPool, changes: ChangeCounters, logger: Logger) {
        self.changes = changes
        self.connection = connection
        self.readers = readers
        self.threadPool = threadPool
        self.gate = TransactionGate()
        self.raw = SQLiteRows(connection: connection, readers: [], threadPool: threadPool, gate: nil, logger: logger)
        self.sql = SQLiteRows(connection: connection, readers: readers, threadPool: threadPool, gate: gate, logger: logger)
    }

    static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connections: (SQLiteHandle, [SQLiteHandle], ChangeCounters)
        do {
            // The read connections open the file the first one created; they take up WAL when it is switched on.
            connections = try await threadPool.runIfActive {
                let connection = try SQLiteHandle(path: path)
                var readers: [SQLiteHandle] = []
                do {
                    // Beside the file the connection has just opened (or created).
                    let changes = try ChangeCounters(beside: path)
                    connection.countChanges(in: changes)
                    // An in-memory database is its connection's alone: another would open a database of its own.
                    for _ in 0..<(path == ":memory:" ? 0 : readerCount) { readers.append(try SQLiteHandle(path: path, reader: true)) }
                    return (connection, readers, changes)
                } catch {
                    (readers + [connection]).forEach { $0.close() }
                    throw error
                }
            }
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
        let store = SQLiteStore(connection: connections.0, readers: connections.1, threadPool: threadPool, changes: connections.2,
                                logger: logger)
        // The connection waits for another process's lock (`SQLiteHandle.busyTimeoutMilliseconds`); within one
        // process writes queue at the gate and never wait for it.
        for pragma in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA synchronous = NORMAL",
        ] {
            try await store.runRetryingWhileBusy(pragma)
        }
        return store
    }

    /// Switching a new file to WAL takes an exclusive lock without waiting for it (busy_timeout does not apply), so
    /// two processes opening the same new file together (`migrate` and `serve`) must retry it.
    private func runRetryingWhileBusy(_ statement: String) async throws {
        var attempts = 0
        while true {
            do {
                try await raw.raw(SQLQueryString(statement)).run()
                return
            } catch let error as SQLiteFailure where error.isBusy && attempts < 100 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await gate.transaction {
            // IMMEDIATE takes the write lock up front, so two writers cannot both read and then both write.
            try await raw.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(raw)
                try await raw.raw("COMMIT").run()
                return result
            } catch {
                try? await raw.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    func version(of tables: [String]) -> TableVersion? {
        TableVersion(counters: changes, indexes: Array(Set(tables.map(ChangeCounters.index(of:)))))
    }

    func close() async throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        // The writer last: the last connection to close copies the WAL into the database and removes it, a write
        // that belongs to the connection that writes.
        let connections = readers + [connection]
        try await threadPool.runIfActive { Self.close(connections) }
        try await threadPool.shutdownGracefully()
    }

    /// Closes each connection once nobody runs a statement on it; a statement after that fails.
    private static func close(_ connections: [SQLiteHandle]) {
        for connection in connections {
            connection.claim()
            defer { connection.release() }
            connection.close()
        }
    }

    deinit {
        // A store dropped without `close` (an error path) still releases its file rather than leak it.
        if !closed.load(ordering: .relaxed) {
            let (connections, threadPool) = (readers + [connection], self.threadPool)
            threadPool.submit { _ in Self.close(connections) }
            threadPool.shutdownGracefully { _ in }
        }
    }
}

/// Statements on the connection's thread, rows read without SQLiteKit's generic decoder for the types every row is
/// made of (text, integers, doubles): a listed page decodes hundreds of columns, and the generic path (a dynamic
/// protocol cast per column) was a tenth of its time. Anything else goes through `SQLiteDataDecoder` as before.
///
/// With a `gate`, a statement waits for any open transaction to end (plain statements); without one it runs at once
/// (the statements of the transaction itself). Either runs in place when it can (`runInPlace`).
private struct SQLiteRows: SQLDatabase {
    let connection: SQLiteHandle
    /// `SQLiteStore`'s read connections for plain statements; none for a transaction's.
    let readers: [SQLiteHandle]
    let threadPool: NIOThreadPool
    let gate: TransactionGate?
    let logger: Logger
    let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    static let encoder = SQLiteDataEncoder()

    /// A bind's value. Text and integers, most binds, go straight to theirs, as the encoder would convert them
    /// (an `Int64` to `Int`, which is 64 bits on every platform Switchboard builds for):
    /// its cast to `SQLiteDataConvertible` looks the conformance up at run time, and was 1% of a chat turn.
    static func data(_ bind: any Encodable & Sendable) throws -> SQLiteData {
        try direct(bind) ?? encoder.encode(bind)
    }

    /// `T` is the bind's own type, opened from the existential, so each check compares two type pointers, where a
    /// cast (`as? String`) would ask the runtime.
    private static func direct<T: Encodable>(_ value: T) -> SQLiteData? {
        if T.self == String.self { return .text(unsafeBitCast(value, to: String.self)) }
        if T.self == Int.self { return .integer(unsafeBitCast(value, to: Int.self)) }
        if T.self == String?.self { return unsafeBitCast(value, to: String?.self).map(SQLiteData.text) ?? .null }
        if T.self == Int?.self { return unsafeBitCast(value, to: Int?.self).map(SQLiteData.integer) ?? .null }
        if T.self == Int64.self { return .integer(Int(unsafeBitCast(value, to: Int64.self))) }
        if T.self == Int64?.self { return unsafeBitCast(value, to: Int64?.self).map { .integer(Int($0)) } ?? .null }
        return nil
    }

    var dialect: any SQLDialect { SQLiteStatementDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        // A statement's text is made of a few dozen pieces; grown from empty, it was copied to a larger buffer
        // four or five times.
        let sql: SQLiteText, binds: [any Encodable & Sendable]
        if let fixed = query as? FixedStatement {
            (sql, binds) = (fixed.text.sqlite, fixed.binds)
        } else {
            var serializer = SQLSerializer(database: self)
            serializer.sql.reserveCapacity(512)
            query.serialize(to: &serializer)
            (sql, binds) = (SQLiteText(serializer.sql), serializer.binds)
        }
        let values = try binds.map(Self.data)
        if try Self.runOnReader(sql, values, readers, onRow) { return }
        let connection = self.connection
        if try Self.runInPlace(sql, values, on: connection, gate: gate, onRow) { return }
        let threadPool = self.threadPool
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // The continuation is resumed on the connection's thread: one hand-off there and one back.
            let handOver: @Sendable () -> Void = {
                connection.enqueued()
                threadPool.submit { state in
                    connection.claim()
                    defer {
                        connection.finished()
                        connection.release()
                    }
                    guard case .active = state else {
                        return continuation.resume(throwing: SQLiteFailure(code: SQLITE_MISUSE, message: "the database is closed"))
                    }
                    continuation.resume(with: Result { try connection.run(sql, values) { onRow($0) } })
                }
            }
            if let gate { gate.submit(handOver) } else { handOver() }
        }
    }

    /// Runs a query on the first free read connection, on the caller's thread, if SQLite says it only reads. Only
    /// `SELECT` and `WITH` are tried: a `PRAGMA` that reads would answer for the read connection, not the store.
    /// Returns false, having run nothing, when no read connection is free or the statement is not a query.
    private static func runOnReader(_ sql: SQLiteText, _ values: [SQLiteData], _ readers: [SQLiteHandle],
                                    _ onRow: @Sendable (any SQLRow) -> Void) throws -> Bool {
        guard !readers.isEmpty, sql.isQuery else { return false }
        for reader in readers where reader.tryClaim() {
            defer { reader.release() }
            return try reader.runIfReadOnly(sql, values) { onRow($0) }
        }
        return false
    }

    /// Runs the statement on the caller's own thread when the connection is free: no hand-off at all. A statement
    /// takes microseconds (a commit may also write the WAL into the database now and then), and none waits here for
    /// another process's lock (`SQLiteHandle.runInPlace`). Returns false, having run nothing, otherwise.
    ///
    /// A plain statement (one with a `gate`) checks for an open transaction after the claim: a transaction's `BEGIN`
    /// needs the claim to run, and the gate marks the transaction open before its `BEGIN` and closed only after its
    /// `COMMIT`, so a closed gate seen while holding the claim means no transaction is under way on the connection.
    private static func runInPlace(_ sql: SQLiteText, _ values: [SQLiteData], on connection: SQLiteHandle, gate: TransactionGate?,
                                   _ onRow: @Sendable (any SQLRow) -> Void) throws -> Bool {
        guard connection.tryClaim() else { return false }
        defer { connection.release() }
        if let gate, gate.isOpen { return false }
        return try connection.runInPlace(sql, values) { onRow($0) }
    }
}

/// A row: its statement's columns and its values.
struct SQLiteFastRow: SQLRow {
    let columns: SQLiteColumns
    let values: [SQLiteData]
    static let decoder = SQLiteDataDecoder()

    struct MissingColumn: Error {
        let column: String
    }

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.index(of: column) != nil }

    /// A pattern, not `== .null`: the derived equality copied and destroyed the value (200 instructions a column).
    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.index(of: column) else { return true }
        if case .null = values[index] { return true }
        return false
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns.index(of: column) else { throw MissingColumn(column: column) }
        let data = values[index]
        // `D` is the very type each case checks, so the value is handed over as it is: a cast (`as? D`) went through
        // the runtime's dynamic casting, half a percent of a chat turn.
        switch data {
        case .text(let text) where D.self == String.self: return unsafeBitCast(text, to: D.self)
        case .integer(let number) where D.self == Int64.self: return unsafeBitCast(Int64(number), to: D.self)
        case .integer(let number) where D.self == Int.self: return unsafeBitCast(number, to: D.self)
        case .float(let number) where D.self == Double.self: return unsafeBitCast(number, to: D.self)
        case .integer(let number) where D.self == Double.self: return unsafeBitCast(Double(number), to: D.self)
        default: break
        }
        return try Self.decoder.decode(D.self, from: data)
    }
}
