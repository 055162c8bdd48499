import Foundation
import SQLKit
import Storage
import Testing

/// The counts of changes per table that let a cache know its rows are current (`Database.version(of:)`): moved by
/// every commit that changes a table, however it changes it, and seen by every store open on the same file.
@Suite("Counts of changes")
struct ChangeCountTests {
    @Test("A commit that changes a table moves its count, seen by another store on the file; a transaction moves it once, at its end")
    func commits() async throws {
        let (db, _, path) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        guard TestDatabase.engine == .sqlite else {
            #expect(db.version(of: ["watched"]) == nil, "PostgreSQL keeps no counts: other machines write it")
            return
        }
        // A second store on the file, as a second process opens it: its own connections, its own mapping of the counts,
        // and the file reached through a symbolic link, which must not make it count apart.
        let link = path + "-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        let other = try await openDatabase(url: nil, sqlitePath: link, logger: TestDatabase.logger)
        defer { Task { try? await other.close() } }
        try await db.run("CREATE TABLE watched (id INTEGER PRIMARY KEY, v TEXT)")
        let version = try #require(other.version(of: ["watched"]))
        var expected = version.current()

        try await db.run("INSERT INTO watched (v) VALUES ('a'), ('b')")
        expected += 1
        #expect(version.current() == expected, "one statement, one commit")

        _ = try await db.all("SELECT * FROM watched")
        try await db.run("UPDATE watched SET v = 'c' WHERE id = 99")
        #expect(version.current() == expected, "a read, and a write that changed no row, move nothing")

        let insideTransaction = try await db.transaction { sql in
            try await sql.raw("UPDATE watched SET v = 'd' WHERE id = 1").run()
            try await sql.raw("INSERT INTO watched (v) VALUES ('e')").run()
            return version.current()
        }
        #expect(insideTransaction == expected, "nothing is announced before the commit")
        expected += 1
        #expect(version.current() == expected)

        try await db.run("DELETE FROM watched WHERE id = 2")
        expected += 1
        #expect(version.current() == expected)
        // Without WHERE SQLite empties the table without visiting its rows.
        try await db.run("DELETE FROM watched")
        expected += 1
        #expect(version.current() == expected, "emptying the table is a change too")

        try await db.run("ALTER TABLE watched ADD COLUMN w TEXT")
        #expect(version.current() > expected, "a change of schema may change any table's rows")
        expected = version.current()

        // A table without a rowid, which SQLite's update hook does not see.
        try await db.run("CREATE TABLE keyed (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
        let keyed = try #require(other.version(of: ["keyed"]))
        let before = keyed.current()
        try await db.run("INSERT INTO keyed (k, v) VALUES ('a', 'b')")
        #expect(keyed.current() > before)
    }

    @Test("A change that reaches a table by a foreign key's cascade moves that table's count")
    func cascade() async throws {
        let (db, _, _) = try await TestDatabase.open()
        defer { Task { try? await db.close() } }
        guard TestDatabase.engine == .sqlite else { return }
        try await db.run("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
        try await db.run("CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id) ON DELETE CASCADE)")
        try await db.run("INSERT INTO parents (id) VALUES (1)")
        try await db.run("INSERT INTO children (id, parent_id) VALUES (1, 1)")
        let children = try #require(db.version(of: ["children"]))
        let before = children.current()
        try await db.run("DELETE FROM parents WHERE id = 1")
        #expect(children.current() > before)
        #expect(try await db.first("SELECT COUNT(*) AS n FROM children")?.decode(column: "n", as: Int.self) == 0)
    }
}
