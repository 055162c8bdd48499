import AsyncHTTPClient
import Core
import Foundation
import NIOCore
import Storage
import Testing

/// The `switchboard` executable, as a user runs it.
struct CLI {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/switchboard").path

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `switchboard args...` in `directory` with `environment` added, and waits for it (killed after
    /// `timeout`, so that a command that does not exit fails its test instead of hanging the suite).
    static func run(_ args: [String], in directory: String, environment: [String: String] = [:], stdin: String? = nil,
                    timeout: Duration = .seconds(60)) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Both pipes are drained at once: a child that fills one while we wait on the other would never exit.
        async let stdout = offThePool { out.fileHandleForReading.readDataToEndOfFile() }
        async let stderr = offThePool { err.fileHandleForReading.readDataToEndOfFile() }
        let (output, errors) = await (stdout, stderr)
        await offThePool { process.waitUntilExit() }
        return Result(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                      stderr: String(decoding: errors, as: UTF8.self))
    }

    /// A fresh data directory and, on PostgreSQL, a fresh database in DATABASE_URL.
    static func freshEnvironment() async throws -> (directory: String, environment: [String: String]) {
        let (url, directory) = try await TestDatabase.fresh()
        var environment = ["AUTH_BCRYPT_COST": "4"]
        if let url { environment["DATABASE_URL"] = url }
        return (directory, environment)
    }

    /// A fresh environment with the signing and vault keys given by configuration, as every process sharing one
    /// database needs them.
    static func sharedEnvironment() async throws -> (directory: String, environment: [String: String]) {
        var (directory, environment) = try await freshEnvironment()
        environment["AUTH_JWT_PRIVATE_KEY"] = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        environment["VAULT_MASTER_KEY"] = Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString()
        return (directory, environment)
    }
}

@Suite("Command line", .serialized)
struct CLITests {
    @Test("migrate applies the schema once; a second run is a no-op; two at once do not double-apply")
    func migrate() async throws {
        let (directory, environment) = try await CLI.freshEnvironment()
        async let first = CLI.run(["migrate"], in: directory, environment: environment)
        async let second = CLI.run(["migrate"], in: directory, environment: environment)
        let results = try await [first, second]
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        let all = "applied " + Schema.migrations.map { String($0.version) }.joined(separator: ", ")
        #expect(results.filter { $0.stdout.contains(all) }.count == 1, "\(results.map(\.stdout))")
        let again = try await CLI.run(["migrate"], in: directory, environment: environment)
        #expect(again.status == 0)
        #expect(again.stdout.contains("schema is current (version \(Schema.migrations.count))"))
        if environment["DATABASE_URL"] == nil {
            #expect(FileManager.default.fileExists(atPath: directory + "/data/switchboard.sqlite"))
        }
    }

    @Test("users create makes a user on the given tier, set-tier moves them (seen on their next request); bad input is refused with a clear message")
    func usersCreate() async throws {
        let (directory, environment) = try await CLI.freshEnvironment()
        let created = try await CLI.run(["users", "create", "--email", "Admin@Example.com", "--tier", "power"], in: directory, environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("<admin@example.com> on tier power"))
        #expect(created.stdout.contains("password: "))

        let fromStdin = try await CLI.run(["users", "create", "--email", "b@example.com", "--password-stdin"], in: directory,
                                          environment: environment, stdin: "a long enough password\n")
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(!fromStdin.stdout.contains("password: "))

        let badTier = try await CLI.run(["users", "create", "--email", "c@example.com", "--tier", "platinum"], in: directory, environment: environment)
        #expect(badTier.status != 0)
        #expect(badTier.stderr.contains("tier"))
        let duplicate = try await CLI.run(["users", "create", "--email", "ADMIN@example.com"], in: directory, environment: environment)
        #expect(duplicate.status != 0)
        #expect(duplicate.stderr.contains("already exists"))

        let moved = try await CLI.run(["users", "set-tier", "--email", "B@example.com", "--tier", "team"], in: directory, environment: environment)
        #expect(moved.status == 0 && moved.stdout.contains("is now on tier team"), "\(moved.stderr)")
        let server = try await ServerProcess.start(directory: directory, environment: environment)
        let login = try await server.post("/api/v1/auth/login", json: ["email": "b@example.com", "password": "a long enough password"])
        let me = try await server.get("/api/v1/auth/me", token: login.json["access_token"] as? String ?? "")
        server.stop()
        #expect(me.json["tier"] as? String == "team", "\(me.json)")
        let unknownTier = try await CLI.run(["users", "set-tier", "--email", "b@example.com", "--tier", "platinum"], in: directory, environment: environment)
        #expect(unknownTier.status != 0 && unknownTier.stderr.contains("tier"))
        let nobody = try await CLI.run(["users", "set-tier", "--email", "nobody@example.com", "--tier", "pro"], in: directory, environment: environment)
        #expect(nobody.status != 0 && nobody.stderr.contains("no user has the email"))
    }

    @Test("keys rotate makes a new key active and re-wraps every secret; a short master key stops start-up")
    func keysRotate() async throws {
        let (directory, environment) = try await CLI.freshEnvironment()
        let first = try await CLI.run(["keys", "rotate"], in: directory, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("new active key local-"))
        #expect(first.stdout.contains("re-wrapped 0 secrets"))
        let keyring = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: directory + "/data/vault-keyring.json"))) as? [String: Any]
        #expect((keyring?["keys"] as? [String: Any])?.count == 2, "the first run created a key, rotation added one")

        let short = try await CLI.run(["serve"], in: NSTemporaryDirectory(), environment: ["VAULT_MASTER_KEY": "c2hvcnQ="])
        #expect(short.status == 1)
        #expect(short.stderr.contains("vault.master_key must be a base64-encoded 256-bit"))
    }

    @Test("storage gc runs against the configured store and says what it removed; a grace period out of range is refused")
    func storageGC() async throws {
        let (directory, environment) = try await CLI.freshEnvironment()
        try FileManager.default.createDirectory(atPath: directory + "/data/blobs/.staging", withIntermediateDirectories: true)
        let staged = directory + "/data/blobs/.staging/left-behind"
        try Data([1]).write(to: URL(fileURLWithPath: staged))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7_200)], ofItemAtPath: staged)
        let result = try await CLI.run(["storage", "gc", "--grace-seconds", "3600"], in: directory, environment: environment)
        #expect(result.status == 0 && result.stdout.contains("removed 0 orphaned objects, 1 staged uploads"), "\(result.stdout) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: staged))
        let refused = try await CLI.run(["storage", "gc", "--grace-seconds", "1"], in: directory, environment: environment)
        #expect(refused.status != 0 && refused.stderr.contains("--grace-seconds"))
    }

    @Test("openapi prints the contract")
    func openapi() async throws {
        let result = try await CLI.run(["openapi"], in: NSTemporaryDirectory())
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("openapi: 3.1.0"))
        #expect(result.stdout.contains("/api/v1/auth/signup:"))
    }

    @Test("Bad configuration stops start-up with a message naming the key")
    func badConfiguration() async throws {
        let result = try await CLI.run(["serve", "--http-port", "eighty"], in: NSTemporaryDirectory())
        #expect(result.status == 2)
        #expect(result.stderr.contains("http.port"))
        let proxies = try await CLI.run(["serve", "--http-trusted-proxies", "10.0.0.0/8,not-an-ip"], in: NSTemporaryDirectory())
        #expect(proxies.status == 2)
        #expect(proxies.stderr.contains("not-an-ip"))
        let tool = try await CLI.run(["serve", "--agents", "helper", "--agents-helper-system-prompt", "Hi", "--agents-helper-tools", "teleport"],
                                     in: NSTemporaryDirectory())
        #expect(tool.status == 1)
        #expect(tool.stderr.contains("agents.helper.tools: there is no tool 'teleport'"))
        // The first model's HTTP client is built before the second fails: it is shut down, not left to crash.
        let script = try await CLI.run(["serve", "--models", "local,demo", "--models-local-provider", "openai", "--models-local-model", "m",
                                        "--models-local-base-url", "http://127.0.0.1:9/v1",
                                        "--models-demo-provider", "mock", "--models-demo-script", "/nonexistent.json"],
                                       in: NSTemporaryDirectory())
        #expect(script.status == 1)
        #expect(script.stderr.contains("models.demo.script"))
        let external = try await CLI.run(["serve", "--auth-mode", "external"], in: NSTemporaryDirectory())
        #expect(external.status == 2)
        #expect(external.stderr.contains("auth.external.jwks_url"))
    }

    @Test("serve answers on its port; on SIGTERM an in-flight request still completes, then the database closes")
    func serveAndStop() async throws {
        var (directory, environment) = try await CLI.freshEnvironment()
        // A real bcrypt cost, so that a signup is still running when the signal arrives.
        environment["AUTH_BCRYPT_COST"] = "14"
        // A bounded shutdown: a connection the server fails to close cannot hold the test for long.
        let (process, out) = try ServerProcess.launch(["serve", "--http-port", "0", "--http-shutdown-timeout-seconds", "30"],
                                                      directory: directory, environment: environment)

        // The "listening" log line names the port the kernel chose.
        // A watchdog, so that a server that never says it listens fails the test instead of hanging it.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(90))
            if process.isRunning { process.interrupt() }
        }
        defer { watchdog.cancel() }
        var port: Int?
        var buffer = ""
        while port == nil {
            let chunk = await offThePool { out.fileHandleForReading.availableData }
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
            port = try ServerProcess.listeningPort(in: buffer)
        }
        let listening = try #require(port, "no listening line in: \(buffer)")
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(listening)/health"), timeout: .seconds(10))
        #expect(response.status == .ok)

        var signup = HTTPClientRequest(url: "http://127.0.0.1:\(listening)/api/v1/auth/signup")
        signup.method = .POST
        signup.headers.add(name: "Content-Type", value: "application/json")
        signup.body = .bytes(ByteBuffer(string: #"{"email": "late@example.com", "password": "in flight password"}"#))
        let inFlight = Task { try await HTTPClient.shared.execute(signup, timeout: .seconds(60)).status }
        // Long enough for the server to have read the request on a loaded machine (one it has not read is not in
        // flight, and shutdown closes its connection), well within the hash's seconds.
        try await Task.sleep(for: .milliseconds(700))
        process.terminate() // SIGTERM, while the signup hashes its password
        #expect(try await inFlight.value == .created)

        let rest = await offThePool { out.fileHandleForReading.readDataToEndOfFile() }
        await offThePool { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: rest, as: UTF8.self).contains("\"msg\":\"stopped\""), "\(String(decoding: rest, as: UTF8.self))")
        if environment["DATABASE_URL"] == nil {
            // SQLite removes the write-ahead log when the last connection closes cleanly.
            #expect(!FileManager.default.fileExists(atPath: directory + "/data/switchboard.sqlite-wal"))
        }
    }
}
