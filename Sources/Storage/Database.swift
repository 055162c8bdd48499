import Logging
import SQLKit

/// The database engine behind a `Database`. Schema and queries are written once and run on both.
public enum Engine: String, Sendable {
    case sqlite
    case postgres
}

/// One handle on the store, whatever the engine.
///
/// `sql` runs single statements; `transaction` runs a body atomically. On SQLite both go through one serialized
/// connection, so a transaction owns the connection for its whole body and no other statement interleaves with it;
/// a plain query may run beside it on a read connection, and sees what was committed before it, as on PostgreSQL.
public protocol Database: Sendable {
    var engine: Engine { get }
    /// Runs single statements outside any explicit transaction.
    var sql: any SQLDatabase { get }
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A number that grows whenever a commit changes one of `tables`, in any process that can open this database: nil
    /// when the engine cannot tell without asking the database itself (PostgreSQL, which other machines write too).
    func version(of tables: [String]) -> TableVersion?
    /// Closes every connection. Queries after this fail.
    func close() async throws
}

public enum DatabaseError: Error, CustomStringConvertible {
    case invalidURL(String)
    case unsupportedScheme(String)

    public var description: String {
        switch self {
        case .invalidURL(let reason): "invalid DATABASE_URL: \(reason)"
        case .unsupportedScheme(let scheme): "unsupported DATABASE_URL scheme '\(scheme)' (use postgres:// or leave it unset for SQLite)"
        }
    }
}

/// Opens the store: PostgreSQL when `url` is a postgres URL, otherwise the SQLite file at `sqlitePath`.
public func openDatabase(url: String?, sqlitePath: String, maxConnections: Int = 20, logger: Logger) async throws -> any Database {
    guard let url, !url.isEmpty else {
        return try await SQLiteStore.open(path: sqlitePath, logger: logger)
    }
    let scheme = url.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
    switch scheme {
    case "postgres", "postgresql":
        return try PostgresStore(url: url, maxConnections: maxConnections, logger: logger)
    case "sqlite":
        let path = String(url.dropFirst("sqlite://".count))
        guard !path.isEmpty else { throw DatabaseError.invalidURL("sqlite:// needs a file path") }
        return try await SQLiteStore.open(path: path, logger: logger)
    default:
        throw DatabaseError.unsupportedScheme(scheme)
    }
}

extension Database {
    /// Runs a query and returns every row.
    public func all(_ query: SQLQueryString) async throws -> [any SQLRow] {
        try await sql.raw(query).all()
    }

    /// Runs a query and returns its first row, if any.
    public func first(_ query: SQLQueryString) async throws -> (any SQLRow)? {
        try await sql.raw(query).first()
    }

    /// Runs a statement that returns no rows.
    public func run(_ query: SQLQueryString) async throws {
        try await sql.raw(query).run()
    }
}
