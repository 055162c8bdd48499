import Foundation
import Logging
import Storage

/// Where tests keep data. Every test gets its own: a SQLite file in a new temporary directory, or, when
/// `SWITCHBOARD_TEST_POSTGRES_URL` names a server (scripts/test sets it), a new PostgreSQL database on it.
enum TestDatabase {
    static let postgresURL = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"]
    static var engine: Engine { postgresURL == nil ? .sqlite : .postgres }
    static let logger = Logger(label: "test")

    /// A new empty store: the `database.url` to use (nil for SQLite) and a fresh data directory.
    static func fresh() async throws -> (url: String?, dataDirectory: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard let postgresURL else { return (nil, directory) }
        let name = "sbtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        // A connection of its own each time: a pool shared by every test for the whole run was seen to stop serving
        // under a loaded run, and every test waiting on it hung.
        let admin = try await openDatabase(url: postgresURL, sqlitePath: "", maxConnections: 1, logger: logger)
        do {
            try await admin.run("CREATE DATABASE \(unsafeRaw: name)")
        } catch {
            try? await admin.close()
            throw error
        }
        try await admin.close()
        var components = URLComponents(string: postgresURL)!
        components.path = "/" + name
        return (components.string!, directory)
    }

    /// Opens a fresh store directly, for storage-level tests.
    static func open() async throws -> (any Database, url: String?, sqlitePath: String) {
        let (url, directory) = try await fresh()
        let path = directory + "/switchboard.sqlite"
        return (try await openDatabase(url: url, sqlitePath: path, maxConnections: 4, logger: logger), url, path)
    }

}
