import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// SQLite: one connection in WAL mode with foreign keys on; transactions exclude other statements (`TransactionGate`).
final class SQLiteStore: Database {
    let engine = Engine.sqlite
    let sql: any SQLDatabase
    private let connection: SQLiteConnection
    private let raw: any SQLDatabase
    private let gate: TransactionGate
    private let closed = Atomic(false)
    /// The connection's own thread: SQLite calls block, and must not wait behind (or stall) other work on the shared
    /// pool, such as bcrypt hashing.
    private let threadPool: NIOThreadPool

    private init(connection: SQLiteConnection, threadPool: NIOThreadPool) {
        self.connection = connection
        self.threadPool = threadPool
        self.raw = SQLiteRows(connection: connection)
        self.gate = TransactionGate()
        self.sql = GatedSQLDatabase(inner: raw, gate: gate)
    }

    static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger,
                                                         on: MultiThreadedEventLoopGroup.singleton.any())
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
        let store = SQLiteStore(connection: connection, threadPool: threadPool)
        for pragma in [
            // First: another process (e.g. `switchboard migrate`, or several starting together, each migrating)
            // may hold the write lock for a while on a busy machine; wait, do not fail. Within one process writes
            // queue at the gate and never wait here.
            "PRAGMA busy_timeout = 30000",
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
            } catch let error as SQLiteError where [.busy, .locked, .busyInRecovery, .busyInSnapshot, .busyTimeout].contains(error.reason) && attempts < 100 {
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

    func close() async throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        try await connection.close()
        try await threadPool.shutdownGracefully()
    }

    deinit {
        // A store dropped without `close` (an error path) still releases its file rather than leak it.
        if !closed.load(ordering: .relaxed) {
            let threadPool = self.threadPool
            (connection.close() as EventLoopFuture<Void>).whenComplete { _ in threadPool.shutdownGracefully { _ in } }
        }
    }
}

/// Statements straight to the connection, rows read without SQLiteKit's generic decoder for the types every row is
/// made of (text, integers, doubles): a listed page decodes hundreds of columns, and the generic path (a dynamic
/// protocol cast per column) was a tenth of its time. Anything else goes through `SQLiteDataDecoder` as before.
private struct SQLiteRows: SQLDatabase {
    let connection: SQLiteConnection
    static let encoder = SQLiteDataEncoder()

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { connection.eventLoop }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        try await connection.query(sql, try binds.map { try Self.encoder.encode($0) }) { onRow(SQLiteFastRow(row: $0)) }
    }
}

private struct SQLiteFastRow: SQLRow {
    let row: SQLiteRow
    static let decoder = SQLiteDataDecoder()

    struct MissingColumn: Error {
        let column: String
    }

    var allColumns: [String] { row.columns.map(\.name) }

    func contains(column: String) -> Bool { row.column(column) != nil }

    func decodeNil(column: String) throws -> Bool { (row.column(column) ?? .null) == .null }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let data = row.column(column) else { throw MissingColumn(column: column) }
        switch data {
        case .text(let text) where D.self == String.self: if let value = text as? D { return value }
        case .integer(let number) where D.self == Int64.self: if let value = number as? D { return value }
        case .integer(let number) where D.self == Int.self: if let value = Int(number) as? D { return value }
        case .float(let number) where D.self == Double.self: if let value = number as? D { return value }
        case .integer(let number) where D.self == Double.self: if let value = Double(number) as? D { return value }
        default: break
        }
        return try Self.decoder.decode(D.self, from: data)
    }
}

/// Hands every statement to the connection through the gate that transactions close.
private struct GatedSQLDatabase: SQLDatabase {
    let inner: any SQLDatabase
    let gate: TransactionGate

    var logger: Logger { inner.logger }
    var eventLoop: any EventLoop { inner.eventLoop }
    var dialect: any SQLDialect { inner.dialect }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await gate.statement { inner.execute(sql: query, onRow) }
    }
}
