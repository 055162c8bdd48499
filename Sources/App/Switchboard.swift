import API
import AsyncHTTPClient
import Core
import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
import Storage

/// A built server: the HTTP application and what it owns. `run` serves until SIGTERM/SIGINT, lets in-flight
/// requests finish, then closes the database.
public struct Switchboard: Sendable {
    public static let version = "0.1.0"

    public let application: Application<RouterResponder<AppRequestContext>>
    public let database: any Database
    public let accounts: Accounts

    public func run() async throws {
        do {
            try await application.runService()
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }

    /// Opens (and migrates) the store, loads the signing key and wires every route.
    public static func build(settings: Settings, logger: Logger, clock: WallClock = .system,
                             httpClient: HTTPClient = .shared) async throws -> Switchboard {
        let addresses = ClientAddressResolver(trustedProxies: settings.trustedProxies)
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath,
                                              maxConnections: settings.databaseMaxConnections, logger: logger)
        do {
            do {
                try await Migrator(database: database, migrations: Schema.migrations, logger: logger).migrate()
            } catch {
                // PostgreSQL errors describe themselves opaquely on purpose; at start-up the details are what an
                // operator needs (they hold no password).
                throw StartupError(message: "cannot migrate the \(database.engine.rawValue) database: \(String(reflecting: error))")
            }
            let signingKey = try settings.jwtPrivateKey.map(SigningKey.init(base64:))
                ?? SigningKey.loadOrCreate(path: settings.signingKeyPath)
            let accounts = await Accounts(database: database, settings: settings.accounts, signingKey: signingKey,
                                          httpClient: httpClient, clock: clock, logger: logger)
            let router = try buildRouter(settings: settings, database: database, accounts: accounts, addresses: addresses, logger: logger)
            let application = Application(
                router: router,
                configuration: ApplicationConfiguration(address: .hostname(settings.httpHost, port: settings.httpPort),
                                                        serverName: "Switchboard"),
                onServerRunning: { channel in
                    logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")",
                                                        "database": "\(database.engine.rawValue)"])
                },
                logger: logger
            )
            return Switchboard(application: application, database: database, accounts: accounts)
        } catch {
            try? await database.close()
            throw error
        }
    }

    static func buildRouter(settings: Settings, database: any Database, accounts: Accounts,
                            addresses: ClientAddressResolver, logger: Logger) throws -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        if !settings.corsOrigins.isEmpty {
            router.add(middleware: CORSMiddleware(origins: Set(settings.corsOrigins)))
        }
        router.add(middleware: RequestScopeMiddleware(addresses: addresses, logger: logger))
        router.add(middleware: BodyLimitMiddleware(maxBytes: settings.maxBodyBytes))
        router.add(middleware: AuthenticationMiddleware(accounts: accounts))

        let document = try OpenAPIDocument()
        let handler = APIHandler(accounts: accounts, database: database)
        // Compact JSON: pretty-printing costs time and bytes on every response.
        try handler.registerHandlers(on: router, configuration: .init(dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]), middlewares: [
            RequireIdentityMiddleware(publicOperations: document.publicOperations),
            EmptyBodyMiddleware(maxBytes: settings.maxBodyBytes),
        ])

        let spec = ByteBuffer(bytes: try document.json())
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: spec))
        }
        router.get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: DocsPage.html)))
        }
        return router
    }
}

public struct StartupError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
