import Core
import Crypto
import Foundation
import Logging
import SQLKit
import Storage

/// What the database needs to match a blueprint: statements that only add (tables, columns, indexes) and
/// statements that would lose data (dropped columns and tables, changed types), kept apart.
public struct SchemaPlan: Sendable {
    public var additive: [String] = []
    public var destructive: [String] = []

    public var isEmpty: Bool { additive.isEmpty && destructive.isEmpty }

    /// For `switchboard blueprint plan`.
    public var description: String {
        if isEmpty { return "The database matches the blueprint: nothing to do." }
        var lines: [String] = []
        if !additive.isEmpty { lines += ["-- additive (applied by serve):"] + additive.map { $0 + ";" } }
        if !destructive.isEmpty {
            lines += ["-- destructive (needs `switchboard blueprint apply --allow-destructive`; data is lost):"] + destructive.map { $0 + ";" }
        }
        return lines.joined(separator: "\n")
    }
}

/// Brings the database to a blueprint's collections. Planned and applied in one transaction under a lock (an
/// advisory lock on PostgreSQL, the write lock on SQLite), so processes starting together apply each change once;
/// each application is recorded in `blueprint_migrations`.
public enum CollectionSchema {
    public static func plan(_ blueprint: Blueprint, db: any Database) async throws -> SchemaPlan {
        try await db.transaction { sql in try await diff(blueprint, engine: db.engine, sql: sql) }
    }

    /// Applies the additive part, and the destructive part too when allowed; throws (changing nothing) when
    /// destructive changes are pending and not allowed. Then loads the seeds.
    @discardableResult
    public static func apply(_ blueprint: Blueprint, db: any Database, allowDestructive: Bool, clock: WallClock = .system,
                             logger: Logger) async throws -> SchemaPlan {
        let engine = db.engine
        let plan = try await db.transaction { sql in
            if engine == .postgres {
                try await sql.raw("SELECT pg_advisory_xact_lock(\(bind: lockKey(blueprint.name)))").run()
            }
            let plan = try await diff(blueprint, engine: engine, sql: sql)
            if !plan.destructive.isEmpty, !allowDestructive {
                throw BlueprintError(["the database has changes the blueprint would lose (run `switchboard blueprint plan` to see them, "
                                      + "then `switchboard blueprint apply --allow-destructive`):"] + plan.destructive.map { "  " + $0 })
            }
            let statements = plan.additive + (allowDestructive ? plan.destructive : [])
            guard !statements.isEmpty else { return plan }
            for statement in statements { try await sql.raw(SQLQueryString(statement)).run() }
            let version = try await sql.raw("SELECT COALESCE(MAX(version), 0) AS version FROM blueprint_migrations WHERE app = \(bind: blueprint.name)")
                .first()?.decode(column: "version", as: Int64.self) ?? 0
            try await sql.raw("""
                INSERT INTO blueprint_migrations (app, version, statements, applied_at)
                VALUES (\(bind: blueprint.name), \(bind: version + 1), \(bind: statements.joined(separator: ";\n")), \(bind: clock.now.millis))
                """).run()
            logger.info("applied blueprint schema changes", metadata: ["app": "\(blueprint.name)", "statements": "\(statements.count)"])
            return plan
        }
        for collection in blueprint.collections {
            try await Seeds.load(collection, blueprint: blueprint, db: db, clock: clock, logger: logger)
        }
        return plan
    }

    static func lockKey(_ app: String) -> Int64 {
        let digest = Array(SHA256.hash(data: Data("blueprint:\(app)".utf8)))
        return digest.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    static func diff(_ blueprint: Blueprint, engine: Engine, sql: any SQLDatabase) async throws -> SchemaPlan {
        var plan = SchemaPlan()
        let prefix = "app_\(blueprint.name)_"
        let tables = Set(try await existingTables(prefix: prefix, engine: engine, sql: sql))
        for collection in blueprint.tables {
            let wanted = columns(collection, engine: engine)
            let table = "\"\(collection.table)\""
            let wantedIndexes = indexes(collection).map { index in
                (index.name, "CREATE INDEX IF NOT EXISTS \"\(index.name)\" ON \(table) (\(index.columns.map { "\"\($0)\"" }.joined(separator: ", ")))")
            }
            guard tables.contains(collection.table) else {
                plan.additive.append(createTable(collection, columns: wanted, engine: engine))
                plan.additive += wantedIndexes.map(\.1)
                continue
            }
            let existing = try await existingColumns(collection.table, engine: engine, sql: sql)
            // Records cannot change hands between users and teams: a collection whose ownership changed is rebuilt.
            if (existing["team_id"] != nil) != (collection.owner == .team) {
                plan.destructive += ["DROP TABLE \(table)", createTable(collection, columns: wanted, engine: engine)] + wantedIndexes.map(\.1)
                continue
            }
            var dropped: [String] = []
            for (name, type) in wanted {
                guard let have = existing[name] else {
                    plan.additive.append("ALTER TABLE \(table) ADD COLUMN \"\(name)\" \(type)")
                    continue
                }
                if !sameType(have, type) {
                    dropped.append("ALTER TABLE \(table) DROP COLUMN \"\(name)\"")
                    dropped.append("ALTER TABLE \(table) ADD COLUMN \"\(name)\" \(type)")
                }
            }
            for name in existing.keys.sorted() where !wanted.contains(where: { $0.name == name }) {
                dropped.append("ALTER TABLE \(table) DROP COLUMN \"\(name)\"")
            }
            // Ours are the `ix_` indexes. A column cannot be dropped from under an index (SQLite refuses), so when
            // columns go, every index of ours goes first and the declared ones come back after.
            let ours = try await indexes(collection.table, engine: engine, sql: sql).filter { $0.hasPrefix("ix_") }
            if dropped.isEmpty {
                let names = Set(wantedIndexes.map(\.0))
                plan.additive += ours.filter { !names.contains($0) }.sorted().map { "DROP INDEX IF EXISTS \"\($0)\"" }
                plan.additive += wantedIndexes.filter { !ours.contains($0.0) }.map(\.1)
            } else {
                plan.destructive += ours.sorted().map { "DROP INDEX IF EXISTS \"\($0)\"" } + dropped + wantedIndexes.map(\.1)
            }
        }
        let declared = Set(blueprint.tables.map(\.table))
        for table in tables.sorted() where !declared.contains(table) {
            plan.destructive.append("DROP TABLE \"\(table)\"")
        }
        return plan
    }

    /// Every column of a collection's table with its SQL type, in order.
    static func columns(_ collection: CollectionSpec, engine: Engine) -> [(name: String, type: String)] {
        let owner = collection.owner == .user ? "TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE" : "TEXT"
        // A deleted team takes its records with it.
        let team = collection.owner == .team ? [("team_id", "TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE")] : []
        return [("id", "TEXT PRIMARY KEY"), ("owner_id", owner)] + team + [("created_at", "BIGINT NOT NULL"), ("updated_at", "BIGINT NOT NULL"),
                ("search_folded", "TEXT")]
            + collection.fields.map { ($0.name, ColumnCodec.sqlType($0.kind, engine: engine)) }
    }

    static func createTable(_ collection: CollectionSpec, columns: [(name: String, type: String)], engine: Engine) -> String {
        "CREATE TABLE \"\(collection.table)\" (\(columns.map { "\"\($0.name)\" \($0.type)" }.joined(separator: ", ")))"
    }

    /// The declared indexes, each led by the owner on user-owned collections (every query filters by it) or by the
    /// team on team-owned ones, and the owner's own index for the default order (newest first); each ends with `id`,
    /// the order's tie-breaker, so that a sorted page is read straight off the index.
    static func indexes(_ collection: CollectionSpec) -> [(name: String, columns: [String])] {
        let lead = collection.owner == .user ? ["owner_id"] : collection.owner == .team ? ["team_id"] : []
        let all = ([lead + ["created_at"]] + collection.indexes.map { lead + $0 }).map { $0.contains("id") ? $0 : $0 + ["id"] }
        return all.map { columns in
            let digest = SHA256.hash(data: Data((collection.table + ":" + columns.joined(separator: ",")).utf8))
            return ("ix_" + digest.prefix(8).hexString, columns)
        }
    }

    /// Types as each engine reports them: only the first word counts (`TEXT COLLATE "C"` is reported as `text`).
    static func sameType(_ reported: String, _ declared: String) -> Bool {
        let first = declared.split(separator: " ").first.map(String.init)?.lowercased() ?? ""
        let have = reported.lowercased()
        return have == first || (first == "double" && have == "double precision") || (first == "text" && have.hasPrefix("text"))
    }

    static func existingTables(prefix: String, engine: Engine, sql: any SQLDatabase) async throws -> [String] {
        let pattern = prefix.replacingOccurrences(of: "_", with: "\\_") + "%"
        let rows = engine == .postgres
            ? try await sql.raw("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE \(bind: pattern) ESCAPE '\\'").all()
            : try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE \(bind: pattern) ESCAPE '\\'").all()
        return try rows.map { try $0.decode(column: "name", as: String.self) }
    }

    static func existingColumns(_ table: String, engine: Engine, sql: any SQLDatabase) async throws -> [String: String] {
        let rows = engine == .postgres
            ? try await sql.raw("""
                SELECT column_name AS name, data_type AS type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = \(bind: table)
                """).all()
            : try await sql.raw("SELECT name, type FROM pragma_table_info(\(bind: table))").all()
        var columns: [String: String] = [:]
        for row in rows { columns[try row.decode(column: "name", as: String.self)] = try row.decode(column: "type", as: String.self) }
        return columns
    }

    static func indexes(_ table: String, engine: Engine, sql: any SQLDatabase) async throws -> [String] {
        let rows = engine == .postgres
            ? try await sql.raw("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = \(bind: table)").all()
            : try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = \(bind: table)").all()
        return try rows.map { try $0.decode(column: "name", as: String.self) }
    }
}
