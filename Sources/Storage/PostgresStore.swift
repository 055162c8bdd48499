import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through a `PostgresClient` pool, which runs for as long as the store is open.
final class PostgresStore: Database {
    let engine = Engine.postgres
    let sql: any SQLDatabase
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger

    init(url: String, maxConnections: Int, logger: Logger) throws {
        var configuration = try PostgresStore.configuration(from: url)
        configuration.options.maximumConnections = maxConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        // Detached: the pool's run loop must not inherit the opening task's executor preference or priority (a pool
        // whose run() was never scheduled was seen to leave every lease waiting, under a loaded test run).
        self.runTask = Task.detached { await client.run() }
        self.sql = PostgresClientSQLDatabase(client: client, logger: logger)
    }

    /// Other machines write the same database, and asking it whether they did costs what a read of the rows does.
    func version(of tables: [String]) -> TableVersion? { nil }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(connection.sql(queryLogLevel: nil))
            }
        } catch let error as PostgresTransactionError {
            // The body's own error matters to callers (it may be an AppError); the rollback already happened.
            if let bodyError = error.closureError { throw bodyError }
            throw error
        }
    }

    func close() async throws {
        runTask.cancel()
        await runTask.value
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw DatabaseError.invalidURL("expected postgres://user:password@host:port/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw DatabaseError.invalidURL("sslmode must be disable, prefer or require")
        }
        return PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: components.percentEncodedUser?.removingPercentEncoding ?? "postgres",
            password: components.percentEncodedPassword?.removingPercentEncoding,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
    }
}

/// SQLKit over the pool: each statement borrows a connection for as long as it runs.
private struct PostgresClientSQLDatabase: SQLDatabase {
    let client: PostgresClient
    let logger: Logger

    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var dialect: any SQLDialect { PostgresDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.sql(queryLogLevel: nil).execute(sql: query, onRow)
        }
    }
}
