import Foundation
import NIOCore
import SQLiteNIO
import SQLiteOptions
import Synchronization
// SQLiteNIO's own build of SQLite (its C target, `sqlite_nio_`-prefixed), not a second copy: two copies of SQLite in
// one process would each keep their own POSIX locks on the file and could corrupt it.
import VaporCSQLite

/// One SQLite connection, driven through the C API with its prepared statements kept.
///
/// It replaces SQLiteNIO's connection, which prepares every statement afresh and completes each one through an event
/// loop and a new task: five thread hand-offs a statement, which were most of what a request that reads the session
/// costs. Whoever calls it must hold the claim (`claim`, `tryClaim`): one caller at a time, on any thread.
final class SQLiteHandle: @unchecked Sendable {
    private let claimed = Atomic(false)
    private var db: OpaquePointer?
    private var statements: [SQLiteText: Prepared] = [:]
    /// Distinct statements kept prepared; past this the cache starts again (statements built with a variable
    /// number of terms could otherwise grow it without bound).
    private static let cacheLimit = 256

    /// A prepared statement and its columns' names, which every row of it shares.
    private final class Prepared {
        let statement: OpaquePointer
        var columns: SQLiteColumns
        /// How many times SQLite had prepared it again (after a change of schema) when `columns` were read.
        var preparedAgain: Int32 = 0
        /// The statement changes nothing in the database.
        let readOnly: Bool
        /// On a connection that counts changes: what it writes (`Writes`).
        let writes: Writes

        init(statement: OpaquePointer, writes: Writes) {
            self.statement = statement
            self.writes = writes
            self.columns = Self.columns(of: statement)
            self.readOnly = sqlite_nio_sqlite3_stmt_readonly(statement) != 0
        }

        /// The columns as they are now: a change of schema (a column added by a migration) makes SQLite prepare the
        /// statement again, and `SELECT *` then has other columns.
        func currentColumns() -> SQLiteColumns {
            let count = sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 0)
            if count != preparedAgain {
                columns = Self.columns(of: statement)
                preparedAgain = count
            }
            return columns
        }

        private static func columns(of statement: OpaquePointer) -> SQLiteColumns {
            SQLiteColumns(names: (0..<sqlite_nio_sqlite3_column_count(statement)).map { column in
                sqlite_nio_sqlite3_column_name(statement, column).map { String(cString: $0) } ?? ""
            })
        }
    }

    /// Where the connection announces the tables its commits changed (`countChanges`); nil until then.
    private var changes: ChangeCounters?
    /// The counters of the tables changed since the last commit or rollback, one bit each.
    private var changed: UInt64 = 0

    /// What a statement writes, as the authorizer tells it while the statement is prepared.
    struct Writes {
        /// The counters of the tables it inserts into, updates or deletes from: they move when it changes rows.
        var tables: UInt64 = 0
        /// It drops or alters a table: every counter moves when it runs.
        var schema = false
    }

    /// What the statement being prepared writes (`Prepared.writes`).
    private var preparing = Writes()

    /// `reader`: a connection for reads alone (`SQLiteStore`'s read connections), which opens an existing file and
    /// refuses any change to it (`PRAGMA query_only`), whatever it is given.
    init(path: String, reader: Bool = false) throws {
        var handle: OpaquePointer?
        let flags = (reader ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite_nio_sqlite3_close(handle)
            throw SQLiteFailure(code: code, message: "cannot open the SQLite database at \(path): \(message)")
        }
        // Kept statements are only worth keeping if binding new values does not recompile them.
        let qpsg = switchboard_sqlite_enable_qpsg(UnsafeMutableRawPointer(handle))
        guard qpsg == SQLITE_OK else {
            sqlite_nio_sqlite3_close(handle)
            throw SQLiteFailure(code: qpsg, message: "cannot configure the SQLite connection")
        }
        if reader {
            let code = sqlite_nio_sqlite3_exec(handle, "PRAGMA query_only = ON", nil, nil, nil)
            guard code == SQLITE_OK else {
                sqlite_nio_sqlite3_close(handle)
                throw SQLiteFailure(code: code, message: "cannot make the SQLite connection read-only")
            }
        }
        sqlite_nio_sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds)
        db = handle
    }

    /// Makes the connection, the one that writes, move `counters` for every table its commits change. Called once,
    /// before the connection runs any statement.
    ///
    /// SQLite's update hook sees every row a statement inserts, updates or deletes, cascades and triggers included,
    /// in a table with a rowid; the authorizer's questions as a statement is prepared name the tables it writes,
    /// which also covers a `DELETE` without `WHERE` (SQLite empties the table without visiting its rows) and a table
    /// without a rowid; and a statement that drops or alters a table moves every counter.
    func countChanges(in counters: ChangeCounters) {
        changes = counters
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite_nio_sqlite3_update_hook(db, { context, _, _, table, _ in
            guard let context, let table else { return }
            let handle = Unmanaged<SQLiteHandle>.fromOpaque(context).takeUnretainedValue()
            handle.changed |= 1 << UInt64(ChangeCounters.index(of: table))
        }, context)
        sqlite_nio_sqlite3_set_authorizer(db, { context, action, table, _, _, _ in
            guard let context else { return SQLITE_OK }
            let handle = Unmanaged<SQLiteHandle>.fromOpaque(context).takeUnretainedValue()
            switch action {
            case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
                if let table { handle.preparing.tables |= 1 << UInt64(ChangeCounters.index(of: table)) }
            case SQLITE_DROP_TABLE, SQLITE_ALTER_TABLE:
                handle.preparing.schema = true
            default:
                break
            }
            return SQLITE_OK
        }, context)
    }

    /// Adds what `prepared`, just run, may have changed to what the next commit announces.
    private func noteWrites(of prepared: Prepared) {
        guard changes != nil else { return }
        if prepared.writes.schema {
            changed = ChangeCounters.all
        } else if prepared.writes.tables != 0, sqlite_nio_sqlite3_changes64(db) > 0 {
            changed |= prepared.writes.tables
        }
    }

    /// Moves the counters of the tables changed, once what changed them is committed (or rolled back: a count moved
    /// for nothing only makes a cache read again). Inside a transaction it waits for the transaction's end.
    private func announceChanges() {
        guard changed != 0, sqlite_nio_sqlite3_get_autocommit(db) != 0 else { return }
        changes?.bump(changed)
        changed = 0
    }

    /// Takes the connection if nobody holds it.
    func tryClaim() -> Bool {
        claimed.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    /// Takes the connection, waiting (yielding the processor) while somebody else runs a statement on it.
    func claim() {
        while !tryClaim() { sched_yield() }
    }

    func release() {
        claimed.store(false, ordering: .releasing)
    }

    /// Statements handed to the connection's thread and not yet run. Counted so that no statement runs in place
    /// ahead of one handed over before it (`runInPlace`).
    private let queued = Atomic(0)

    /// Counts a statement about to be handed to the connection's thread; `finished` when it has run.
    func enqueued() { queued.add(1, ordering: .relaxed) }
    func finished() { queued.subtract(1, ordering: .relaxed) }

    /// Runs `sql` on the caller's thread if that cannot wait: the caller holds the claim, nothing handed over earlier
    /// is still waiting, and the statement does not wait for another process's lock (no busy timeout here; SQLite
    /// then answers busy at once, having changed nothing). Returns false, having run nothing, when it would wait.
    func runInPlace(_ sql: SQLiteText, _ binds: [SQLiteData], _ onRow: (SQLiteFastRow) -> Void) throws -> Bool {
        guard queued.load(ordering: .relaxed) == 0 else { return false }
        return try runWithoutWaiting(sql, onlyIfReadOnly: false, binds, onRow)
    }

    /// Runs `sql` as `runInPlace` does if SQLite says the statement only reads (`sqlite3_stmt_readonly`), for the
    /// read connections, which have no thread of their own. Returns false, having run nothing, otherwise.
    func runIfReadOnly(_ sql: SQLiteText, _ binds: [SQLiteData], _ onRow: (SQLiteFastRow) -> Void) throws -> Bool {
        try runWithoutWaiting(sql, onlyIfReadOnly: true, binds, onRow)
    }

    /// The statement is prepared inside the no-wait window too: preparing one may read the schema, which can wait
    /// for another process's lock like any read.
    private func runWithoutWaiting(_ sql: SQLiteText, onlyIfReadOnly: Bool, _ binds: [SQLiteData],
                                   _ onRow: (SQLiteFastRow) -> Void) throws -> Bool {
        guard db != nil else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the database is closed") }
        sqlite_nio_sqlite3_busy_timeout(db, 0)
        defer { sqlite_nio_sqlite3_busy_timeout(db, Self.busyTimeoutMilliseconds) }
        var rows = 0
        do {
            let prepared = try prepare(sql)
            if onlyIfReadOnly && !prepared.readOnly { return false }
            try run(prepared, binds) { row in
                rows += 1
                onRow(row)
            }
            return true
        } catch let failure as SQLiteFailure where failure.isBusy && rows == 0 {
            return false
        }
    }

    /// How long a statement waits for another process's lock (`switchboard migrate`, or a second process starting
    /// together with this one) before it fails.
    static let busyTimeoutMilliseconds: Int32 = 30_000

    /// Runs `sql` with `binds`, handing each row to `onRow`.
    func run(_ sql: SQLiteText, _ binds: [SQLiteData], _ onRow: (SQLiteFastRow) -> Void) throws {
        try run(prepare(sql), binds, onRow)
    }

    private func run(_ prepared: Prepared, _ binds: [SQLiteData], _ onRow: (SQLiteFastRow) -> Void) throws {
        let statement = prepared.statement
        // Reset, not cleared: every parameter is bound again on the next run. A statement outside a transaction
        // commits as it ends, and `COMMIT` as it runs: then the counters move.
        defer {
            sqlite_nio_sqlite3_reset(statement)
            noteWrites(of: prepared)
            announceChanges()
        }
        for (offset, bind) in binds.enumerated() {
            try check(Self.bind(bind, at: Int32(offset + 1), to: statement))
        }
        var columns: SQLiteColumns?
        while true {
            let code = sqlite_nio_sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw failure(code) }
            // Read after the first step, which is when SQLite prepares the statement again if it must.
            let current = columns ?? prepared.currentColumns()
            columns = current
            var values: [SQLiteData] = []
            values.reserveCapacity(current.names.count)
            for column in 0..<Int32(current.names.count) { values.append(Self.value(of: statement, at: column)) }
            onRow(SQLiteFastRow(columns: current, values: values))
        }
    }

    /// Finalizes every statement and closes the connection.
    func close() {
        for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
        statements.removeAll()
        sqlite_nio_sqlite3_close_v2(db)
        db = nil
    }

    private func prepare(_ sql: SQLiteText) throws -> Prepared {
        if let prepared = statements[sql] { return prepared }
        guard db != nil else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the database is closed") }
        var statement: OpaquePointer?
        preparing = Writes()
        let code = sqlite_nio_sqlite3_prepare_v3(db, sql.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK else { throw failure(code) }
        // An empty statement (only a comment, say) prepares to nothing; it runs as one that has no rows.
        guard let statement = try statement ?? Self.emptyStatement(db) else { throw failure(code) }
        if statements.count >= Self.cacheLimit {
            for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
            statements.removeAll(keepingCapacity: true)
        }
        let prepared = Prepared(statement: statement, writes: preparing)
        statements[sql] = prepared
        return prepared
    }

    /// `SELECT 1 WHERE 0`: what an empty statement runs as.
    private static func emptyStatement(_ db: OpaquePointer?) throws -> OpaquePointer? {
        var statement: OpaquePointer?
        let code = sqlite_nio_sqlite3_prepare_v3(db, "SELECT 1 WHERE 0", -1, 0, &statement, nil)
        guard code == SQLITE_OK else { throw SQLiteFailure(code: code, message: "cannot prepare an empty statement") }
        return statement
    }

    private static func bind(_ value: SQLiteData, at index: Int32, to statement: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let number): sqlite_nio_sqlite3_bind_int64(statement, index, Int64(number))
        case .float(let number): sqlite_nio_sqlite3_bind_double(statement, index, number)
        case .null: sqlite_nio_sqlite3_bind_null(statement, index)
        case .text(var text):
            text.withUTF8 { bytes in
                sqlite_nio_sqlite3_bind_text64(statement, index, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                               UInt64(bytes.count), Self.transient, UInt8(SQLITE_UTF8))
            }
        case .blob(let buffer):
            buffer.withUnsafeReadableBytes { bytes in
                sqlite_nio_sqlite3_bind_blob64(statement, index, bytes.baseAddress, UInt64(bytes.count), Self.transient)
            }
        }
    }

    /// SQLite copies the value before the call returns (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func value(of statement: OpaquePointer, at column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER:
            return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            // The text pointer first, then its length in bytes, as SQLite documents the order.
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self))
        case SQLITE_BLOB:
            let pointer = sqlite_nio_sqlite3_column_blob(statement, column)
            let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: length)
            if let pointer { buffer.writeBytes(UnsafeRawBufferPointer(start: pointer, count: length)) }
            return .blob(buffer)
        default:
            return .null
        }
    }

    private func check(_ code: Int32) throws {
        if code != SQLITE_OK { throw failure(code) }
    }

    private func failure(_ code: Int32) -> SQLiteFailure {
        SQLiteFailure(code: code, message: db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "the database is closed")
    }
}

/// An error SQLite reported: its (extended) result code and message.
struct SQLiteFailure: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    /// The primary result code (the extended code's low byte).
    var primary: Int32 { code & 0xff }
    /// Another connection holds the lock this statement needs.
    var isBusy: Bool { primary == SQLITE_BUSY || primary == SQLITE_LOCKED }

    var description: String { "SQLite error \(code): \(message)" }
}

/// The column names of a statement, and where each is, shared by all its rows.
final class SQLiteColumns: Sendable {
    let names: [String]
    let indexes: [String: Int]
    /// Each name's length in UTF-8 bytes, compared before the name itself (`index(of:)`).
    private let lengths: [Int]

    init(names: [String]) {
        self.names = names
        // The first of two columns with one name wins, as SQLiteNIO's rows had it.
        self.indexes = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.lengths = names.map(\.utf8.count)
    }

    /// The position of the column `name` (the first of that name). Most rows have a few columns, and comparing a few
    /// names costs less than hashing one, which was 1% of a chat turn's instructions. Lengths are compared first:
    /// two short names that differ still cost a call into the standard library's string comparison, 22 of them
    /// for the user row that every authenticated request reads.
    func index(of name: String) -> Int? {
        guard names.count <= 12 else { return indexes[name] }
        let length = name.utf8.count
        return names.indices.first { lengths[$0] == length && names[$0] == name }
    }
}
