import Core
import Foundation
import Logging
import Storage

/// `switchboard storage gc`: what a crash between a client-storage write's bytes and its metadata left behind.
public enum StorageGC {
    public static func run(settings: Settings, logger: Logger, grace: TimeInterval) async throws -> ClientStorage.Collected {
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        do {
            try await Migrator(database: database, migrations: Schema.migrations, logger: logger).migrate()
            let storage = ClientStorage(db: database, blobs: settings.blobStore(), plans: settings.plans,
                                        settings: settings.storage, clock: .system)
            let collected = try await storage.collectGarbage(grace: grace)
            try await database.close()
            return collected
        } catch {
            try? await database.close()
            throw error
        }
    }
}
