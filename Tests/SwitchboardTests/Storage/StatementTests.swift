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
