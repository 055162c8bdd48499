import Foundation
import SQLKit
import Storage
import Testing

/// The store's statements as every feature relies on them, on both engines. On SQLite statements are kept prepared
/// and run in place or on the connection's thread: these hold whichever way a statement goes.
@Suite("Statements")
struct StatementTests {
    @Test("A kept SELECT * sees a column added after it was first run")
    func schemaChange() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        try await db.run("CREATE TABLE kept (id INTEGER PRIMARY KEY)")
        try await db.run("INSERT INTO kept (id) VALUES (1)")
        let before = try #require(try await db.first("SELECT * FROM kept"))
        #expect(before.allColumns == ["id"])
        try await db.run("ALTER TABLE kept ADD COLUMN label TEXT NOT NULL DEFAULT 'added'")
        let after = try #require(try await db.first("SELECT * FROM kept"))
        #expect(after.allColumns == ["id", "label"])
        #expect(try after.decode(column: "label", as: String.self) == "added")
    }

    @Test("A fixed statement binds in order, alone and inside another statement, in a transaction too, on either engine")
    func fixedStatement() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        try await db.run("CREATE TABLE fixed (id INTEGER PRIMARY KEY, label TEXT, n BIGINT)")
        for (id, label, n) in [(1, "one", Int64(10)), (2, "two", 20), (3, "three", 30)] {
            try await db.run("INSERT INTO fixed (id, label, n) VALUES (\(bind: id), \(bind: label), \(bind: n))")
        }
        let byLabel = FixedStatement.Text("SELECT id FROM fixed WHERE label = ? AND n > ?")
        // Run twice with other binds: the second run must not see the first run's values.
        #expect(try await db.first(byLabel("two", Int64(15)))?.decode(column: "id", as: Int.self) == 2)
        #expect(try await db.first(byLabel("two", Int64(25))) == nil)
        #expect(try await db.first(byLabel("three", Int64(25)))?.decode(column: "id", as: Int.self) == 3)
        // Inside a statement with binds of its own before and after it, whose placeholders number on from them.
        let range = FixedStatement.Text("n >= ? AND n <= ?")
        let rows = try await db.all("SELECT id FROM fixed WHERE id <> \(bind: 1) AND \(range(Int64(10), Int64(30))) AND label <> \(bind: "three") ORDER BY id")
        #expect(try rows.map { try $0.decode(column: "id", as: Int.self) } == [2])
        let inside = try await db.transaction { sql in
            try await sql.raw("SELECT COUNT(*) AS c FROM fixed WHERE \(range(Int64(15), Int64(35)))").first()?.decode(column: "c", as: Int.self)
        }
        #expect(inside == 2)
    }

    @Test("Queries in any case and after any white space read; a WITH that writes still writes")
    func queryForms() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        try await db.run("CREATE TABLE forms (v INTEGER)")
        // Begins like a query (a read connection is tried first) but writes: it must run where writes run.
        try await db.run("\n\t  with source AS (SELECT 7 AS v) INSERT INTO forms (v) SELECT v FROM source")
        for sql in ["select v from forms", " \n\tSeLeCt v FROM forms", "WITH s AS (SELECT v FROM forms) SELECT v FROM s",
                    "\r\nwith s as (select v from forms) select v from s"] {
            #expect(try await db.first(SQLQueryString(sql))?.decode(column: "v", as: Int.self) == 7, "\(sql)")
        }
    }

    @Test("Values come back as they were bound: text in any script, integers at the 64-bit edges, doubles, null")
    func roundTrip() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        try await db.run("CREATE TABLE kinds (id INTEGER PRIMARY KEY, t TEXT, i BIGINT, d DOUBLE PRECISION, b TEXT)")
        let text = "héllo, 世界 👋🏽 \"quoted\" ' end"
        for (id, number) in [(1, Int64.max), (2, Int64.min), (3, 0)] {
            try await db.run("INSERT INTO kinds (id, t, i, d, b) VALUES (\(bind: id), \(bind: text), \(bind: number), \(bind: 0.1 + Double(id)), NULL)")
        }
        let rows = try await db.all("SELECT t, i, d, b FROM kinds ORDER BY id")
        #expect(rows.count == 3)
        #expect(try rows.map { try $0.decode(column: "i", as: Int64.self) } == [Int64.max, Int64.min, 0])
        #expect(try rows.allSatisfy { try $0.decode(column: "t", as: String.self) == text })
        #expect(try rows.map { try $0.decode(column: "d", as: Double.self) } == [1.1, 2.1, 3.1])
        #expect(try rows.allSatisfy { try $0.decodeNil(column: "b") })
        // Optional integers, and a statement with more binds than SQLite's placeholders kept made (128).
        let some: Int64? = 7, none: Int64? = nil
        try await db.run("INSERT INTO kinds (id, t, i) VALUES (4, \(bind: text), \(bind: some)), (5, \(bind: text), \(bind: none))")
        let optional = try await db.all("SELECT i FROM kinds WHERE id IN (4, 5) ORDER BY id")
        #expect(try optional.map { try $0.decode(column: "i", as: Int64?.self) } == [7, nil])
        let many: [any Encodable & Sendable] = (1...300).map { $0 }
        let counted = try #require(try await db.first("SELECT COUNT(*) AS n FROM kinds WHERE id IN (\(binds: many))"))
        #expect(try counted.decode(column: "n", as: Int.self) == 5)
        let last = try #require(try await db.first("SELECT \(binds: many) AS n"))
        #expect(try last.decode(column: "n", as: Int.self) == 300, "the 300th bind in the 300th place")
    }

    @Test("A plain statement sent while a transaction is open runs after it, never inside it, and a rollback undoes only the transaction")
    func plainStatementsStayOutOfTransactions() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        try await db.run("CREATE TABLE entries (id INTEGER PRIMARY KEY, source TEXT NOT NULL)")
        struct Abort: Error {}
        let (opened, signalOpened) = AsyncStream.makeStream(of: Void.self)
        let (proceed, signalProceed) = AsyncStream.makeStream(of: Void.self)
        let transaction = Task {
            try await db.transaction { sql in
                try await sql.raw("INSERT INTO entries (id, source) VALUES (1, 'transaction')").run()
                signalOpened.yield()
                for await _ in proceed { break }
                throw Abort()
            }
        }
        for await _ in opened { break }
        // Sent while the transaction is open: on SQLite it waits for the transaction to end.
        let plain = Task { try await db.run("INSERT INTO entries (id, source) VALUES (2, 'plain')") }
        try await Task.sleep(for: .milliseconds(100))
        signalProceed.yield()
        await #expect(throws: Abort.self) { try await transaction.value }
        try await plain.value
        let sources = try await db.all("SELECT source FROM entries ORDER BY id").map { try $0.decode(column: "source", as: String.self) }
        #expect(sources == ["plain"])
    }

    @Test("Many statements at once from many tasks all run, and each answers its own query")
    func concurrentStatements() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        try await db.run("CREATE TABLE numbers (n INTEGER PRIMARY KEY)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<200 {
                group.addTask {
                    if n % 4 == 0 {
                        try await db.transaction { sql in try await sql.raw("INSERT INTO numbers (n) VALUES (\(bind: n))").run() }
                    } else {
                        try await db.run("INSERT INTO numbers (n) VALUES (\(bind: n))")
                    }
                    let row = try #require(try await db.first("SELECT n FROM numbers WHERE n = \(bind: n)"))
                    #expect(try row.decode(column: "n", as: Int.self) == n)
                }
            }
            try await group.waitForAll()
        }
        let count = try #require(try await db.first("SELECT COUNT(*) AS total FROM numbers"))
        #expect(try count.decode(column: "total", as: Int.self) == 200)
    }
}
