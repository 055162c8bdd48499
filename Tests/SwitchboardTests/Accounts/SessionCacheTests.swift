import Foundation
import SQLiteNIO
import Testing

/// On SQLite the session look-up is answered from memory while nothing it read has changed (`SessionCache`). These run
/// two server processes on one database and change the session and the user through one of them, or the command
/// line, and check the other's very next request.
@Suite("Session look-ups kept between requests", .serialized)
struct SessionCacheTests {
    @Test("A rename, a tier change by the command line and a logout in one process are seen by the next request to another")
    func changesSeenAcrossProcesses() async throws {
        var (directory, shared) = try await CLI.sharedEnvironment()
        // An hour: only the counts can make the second process read again, not the age of what it kept.
        shared["AUTH_SESSION_CACHE_MS"] = "3600000"
        let first = try await ServerProcess.start(directory: directory, environment: shared)
        let second = try await ServerProcess.start(directory: directory, environment: shared)
        defer { first.stop(); second.stop() }
        let signup = try await first.post("/api/v1/auth/signup", json: ["email": "cached@example.com", "password": "correct horse battery"])
        let token = try #require(signup.json["access_token"] as? String)
        #expect(try await second.get("/api/v1/auth/me", token: token).json["name"] == nil)
        if TestDatabase.engine == .sqlite {
            // The cache is in use: a name written behind Switchboard's back is not seen while the counts stand still.
            try await Self.outsideSwitchboard(directory, "UPDATE users SET name = 'Behind its back'")
            #expect(try await second.get("/api/v1/auth/me", token: token).json["name"] == nil)
        }

        let renamed = try await first.request(.PUT, "/api/v1/user/profile", json: ["name": "Renamed"], token: token)
        #expect(renamed.status == 200)
        #expect(try await second.get("/api/v1/auth/me", token: token).json["name"] as? String == "Renamed")

        let moved = try await CLI.run(["users", "set-tier", "--email", "cached@example.com", "--tier", "team"], in: directory, environment: shared)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(try await second.get("/api/v1/auth/me", token: token).json["tier"] as? String == "team")

        #expect(try await first.request(.POST, "/api/v1/auth/logout", token: token).status == 204)
        let after = try await second.get("/api/v1/auth/me", token: token)
        #expect(after.status == 401)
        #expect(after.json["code"] as? String == "session_revoked")
    }

    @Test("An edit made outside Switchboard is seen within auth.session_cache_ms: a second by default, at once with 0",
          .enabled(if: TestDatabase.engine == .sqlite), arguments: [nil, "0"])
    func editOutsideSwitchboard(cacheMillis: String?) async throws {
        var (directory, shared) = try await CLI.sharedEnvironment()
        if let cacheMillis { shared["AUTH_SESSION_CACHE_MS"] = cacheMillis }
        let server = try await ServerProcess.start(directory: directory, environment: shared)
        defer { server.stop() }
        let signup = try await server.post("/api/v1/auth/signup", json: ["email": "shell@example.com", "password": "correct horse battery"])
        let token = try #require(signup.json["access_token"] as? String)
        #expect(try await server.get("/api/v1/auth/me", token: token).status == 200)

        try await Self.outsideSwitchboard(directory, "UPDATE sessions SET revoked_at = 1 WHERE revoked_at IS NULL")
        if cacheMillis == nil { try await Task.sleep(for: .milliseconds(1_100)) }
        let after = try await server.get("/api/v1/auth/me", token: token)
        #expect(after.status == 401)
        #expect(after.json["code"] as? String == "session_revoked")
    }

    /// Runs `sql` on the database in `directory` as the `sqlite3` shell would: a connection of its own, which moves
    /// none of Switchboard's counts.
    static func outsideSwitchboard(_ directory: String, _ sql: String) async throws {
        let shell = try await SQLiteConnection.open(storage: .file(path: directory + "/data/switchboard.sqlite"))
        do {
            _ = try await shell.query(sql)
        } catch {
            try? await shell.close()
            throw error
        }
        try await shell.close()
    }
}
