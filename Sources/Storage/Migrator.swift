import Foundation
import Logging
import SQLKit

/// One numbered schema change. `statements` may differ by engine where the SQL types do.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let statements: @Sendable (Engine) -> [String]

    public init(version: Int, name: String, statements: @escaping @Sendable (Engine) -> [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Applies pending migrations in order, each once.
///
/// Everything happens in one transaction that first takes a lock (an advisory lock on PostgreSQL, the write lock on
/// SQLite), so processes starting together apply each migration exactly once and a failure leaves nothing half done.
public struct Migrator: Sendable {
    /// Arbitrary, fixed: every Switchboard process agrees on it.
    static let advisoryLockKey: Int64 = 0x5357_4244_4d49_4752
    let database: any Database
    let migrations: [Migration]
    let logger: Logger

    public init(database: any Database, migrations: [Migration], logger: Logger) {
        precondition(Set(migrations.map(\.version)).count == migrations.count, "duplicate migration version")
        self.database = database
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Returns the versions this call applied (empty when the schema was already current).
    @discardableResult
    public func migrate() async throws -> [Int] {
        let engine = database.engine
        let migrations = self.migrations
        let logger = self.logger
        return try await database.transaction { sql in
            if engine == .postgres {
                try await sql.raw("SELECT pg_advisory_xact_lock(\(bind: Migrator.advisoryLockKey))").run()
            }
            try await sql.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """).run()
            let applied = Set(try await sql.raw("SELECT version FROM schema_migrations").all()
                .map { try $0.decode(column: "version", as: Int64.self) })
            var newlyApplied: [Int] = []
            for migration in migrations where !applied.contains(Int64(migration.version)) {
                for statement in migration.statements(engine) {
                    try await sql.raw(SQLQueryString(statement)).run()
                }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await sql.raw("""
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: Int64(migration.version)), \(bind: migration.name), \(bind: now))
                    """).run()
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                newlyApplied.append(migration.version)
            }
            return newlyApplied
        }
    }

    /// The versions recorded as applied, ascending.
    public func appliedVersions() async throws -> [Int] {
        let rows = try await database.all("SELECT version FROM schema_migrations ORDER BY version")
        return try rows.map { Int(try $0.decode(column: "version", as: Int64.self)) }
    }
}
