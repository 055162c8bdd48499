import Core
import Foundation
import SQLKit
import Storage
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("Running migrations twice applies each once; the second run is a no-op")
    func migrateTwice() async throws {
        let (db, _, _) = try await TestDatabase.open()
        let migrator = Migrator(database: db, migrations: Schema.migrations, logger: TestDatabase.logger)
        let first = try await migrator.migrate()
        let second = try await migrator.migrate()
        #expect(first == Schema.migrations.map(\.version))
        #expect(second.isEmpty)
        #expect(try await migrator.appliedVersions() == Schema.migrations.map(\.version))
        try await db.close()
    }

    @Test("Processes migrating together apply every migration exactly once")
    func concurrentMigrators() async throws {
        let (first, url, path) = try await TestDatabase.open()
        // Separate handles, as separate processes would have: separate pools or connections.
        var handles: [any Database] = [first]
        for _ in 0..<3 {
            handles.append(try await openDatabase(url: url, sqlitePath: path, maxConnections: 2, logger: TestDatabase.logger))
        }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for db in handles {
                group.addTask { try await Migrator(database: db, migrations: Schema.migrations, logger: TestDatabase.logger).migrate() }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(applied.sorted() == Schema.migrations.map(\.version))
        let rows = try await first.all("SELECT version FROM schema_migrations")
        #expect(rows.count == Schema.migrations.count)
        for db in handles { try await db.close() }
    }

    @Test("A failing migration leaves nothing behind")
    func failingMigrationRollsBack() async throws {
        let (db, _, _) = try await TestDatabase.open()
        let broken = Migration(version: 1, name: "broken") { _ in
            ["CREATE TABLE widgets (id TEXT PRIMARY KEY)", "THIS IS NOT SQL"]
        }
        await #expect(throws: (any Error).self) {
            try await Migrator(database: db, migrations: [broken], logger: TestDatabase.logger).migrate()
        }
        // Neither the table nor the version row survived.
        await #expect(throws: (any Error).self) { try await db.run("SELECT id FROM widgets") }
        try await Migrator(database: db, migrations: Schema.migrations, logger: TestDatabase.logger).migrate()
        #expect(try await db.all("SELECT version FROM schema_migrations").count == Schema.migrations.count)
        try await db.close()
    }
}

@Suite("Store")
struct StoreTests {
    @Test("SQLite runs in WAL mode with foreign keys on", .enabled(if: TestDatabase.engine == .sqlite))
    func sqlitePragmas() async throws {
        let (db, _, path) = try await TestDatabase.open()
        let mode = try await db.first("PRAGMA journal_mode")?.decode(column: "journal_mode", as: String.self)
        let foreignKeys = try await db.first("PRAGMA foreign_keys")?.decode(column: "foreign_keys", as: Int.self)
        #expect(mode == "wal")
        #expect(foreignKeys == 1)
        #expect(FileManager.default.fileExists(atPath: path))
        try await db.close()
    }

    @Test("Foreign keys cascade: deleting a user deletes its sessions")
    func cascade() async throws {
        let (db, _, _) = try await TestDatabase.open()
        try await Migrator(database: db, migrations: Schema.migrations, logger: TestDatabase.logger).migrate()
        try await db.run("INSERT INTO users (id, email, tier, created_at, updated_at) VALUES ('u1', 'a@b.co', 'free', 0, 0)")
        try await db.run("""
            INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at) VALUES ('s1', 'u1', 0, 0, 1)
            """)
        try await db.run("DELETE FROM users WHERE id = 'u1'")
        #expect(try await db.all("SELECT id FROM sessions").isEmpty)
        try await db.close()
    }

    @Test("Concurrent transactions never interleave: read-modify-write keeps every increment")
    func transactionsAreIsolated() async throws {
        let (db, _, _) = try await TestDatabase.open()
        try await db.run("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        try await db.run("INSERT INTO counter (id, n) VALUES (1, 0)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    try await db.transaction { sql in
                        // Lock the row on PostgreSQL; SQLite's transaction already owns the connection.
                        let suffix = db.engine == .postgres ? " FOR UPDATE" : ""
                        let n = try await sql.raw("SELECT n FROM counter WHERE id = 1\(unsafeRaw: suffix)").first()!
                            .decode(column: "n", as: Int64.self)
                        try await sql.raw("UPDATE counter SET n = \(bind: n + 1) WHERE id = 1").run()
                    }
                }
            }
            try await group.waitForAll()
        }
        let n = try await db.first("SELECT n FROM counter WHERE id = 1")?.decode(column: "n", as: Int64.self)
        #expect(n == 40)
        try await db.close()
    }

    @Test("A transaction that throws is rolled back")
    func rollback() async throws {
        let (db, _, _) = try await TestDatabase.open()
        try await db.run("CREATE TABLE items (id TEXT PRIMARY KEY)")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await db.transaction { sql in
                try await sql.raw("INSERT INTO items (id) VALUES ('a')").run()
                throw Boom()
            }
        }
        #expect(try await db.all("SELECT id FROM items").isEmpty)
        try await db.close()
    }
}

@Suite("Plain queries beside writes")
struct PlainQueryTests {
    @Test("A plain query runs beside an open transaction and sees the last commit, not the transaction's rows")
    func queryBesideTransaction() async throws {
        let (db, _, _) = try await TestDatabase.open()
        try await db.run("CREATE TABLE items (id TEXT PRIMARY KEY)")
        try await db.run("INSERT INTO items (id) VALUES ('a')")
        let (inside, entered) = AsyncStream<Void>.makeStream()
        let (release, released) = AsyncStream<Void>.makeStream()
        let writer = Task {
            try await db.transaction { sql in
                try await sql.raw("INSERT INTO items (id) VALUES ('b')").run()
                entered.yield()
                for await _ in release { break }
            }
        }
        for await _ in inside { break }
        // Before read connections, this query waited for the transaction, which waits for this test: so it gets ten
        // seconds, then the transaction is let go either way.
        let during = try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask { try await Self.ids(db) }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = try await group.next() ?? nil
            released.yield()
            group.cancelAll()
            return first
        }
        try await writer.value
        #expect(during == ["a"])
        #expect(try await Self.ids(db) == ["a", "b"])
        try await db.close()
    }

    @Test("Each write is seen by the next query, whichever connection runs it; a write spelled WITH still writes")
    func readYourWrites() async throws {
        let (db, _, path) = try await TestDatabase.open()
        try await db.run("CREATE TABLE items (id TEXT PRIMARY KEY)")
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let id = "item-\(index)"
                    if index.isMultiple(of: 2) {
                        try await db.run("INSERT INTO items (id) VALUES (\(bind: id))")
                    } else {
                        try await db.transaction { sql in try await sql.raw("INSERT INTO items (id) VALUES (\(bind: id))").run() }
                    }
                    // Lower case, and white space first: still a query.
                    return try await db.first("\n  select id from items where id = \(bind: id)") != nil
                }
            }
            for try await found in group { #expect(found) }
        }
        try await db.run("WITH n(v) AS (SELECT 'written') INSERT INTO items (id) SELECT v FROM n")
        #expect(try await db.first("SELECT id FROM items WHERE id = 'written'") != nil)
        #expect(try await db.all("SELECT id FROM items").count == 201)
        try await db.close()
        await #expect(throws: (any Error).self) { try await db.run("SELECT id FROM items") }
        // Closing put the WAL back into the database file: no connection was left open.
        if db.engine == .sqlite { #expect(!FileManager.default.fileExists(atPath: path + "-wal")) }
    }

    @Test("An in-memory SQLite database has no read connections, which would each open an empty one",
          .enabled(if: TestDatabase.engine == .sqlite))
    func inMemory() async throws {
        let db = try await openDatabase(url: nil, sqlitePath: ":memory:", logger: TestDatabase.logger)
        try await db.run("CREATE TABLE items (id TEXT PRIMARY KEY)")
        try await db.run("INSERT INTO items (id) VALUES ('a')")
        #expect(try await Self.ids(db) == ["a"])
        try await db.close()
    }

    private static func ids(_ db: any Database) async throws -> [String] {
        try await db.all("SELECT id FROM items ORDER BY id").map { try $0.decode(column: "id", as: String.self) }
    }
}
