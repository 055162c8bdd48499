import App
import Core
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// Builds a real server on a fresh store and runs a test against it.
struct TestApp: Sendable {
    let server: Switchboard
    let client: any TestClientProtocol
    let clock: TestClock
    let signingKey: Curve25519.Signing.PrivateKey
    let logs: LogCapture
    let settings: Settings

    /// Test defaults: bcrypt at its lowest cost, throttles out of the way, a known signing key.
    static func settings(_ customize: (inout Settings) -> Void = { _ in }) async throws -> (Settings, Curve25519.Signing.PrivateKey) {
        let (url, directory) = try await TestDatabase.fresh()
        var settings = Settings()
        settings.databaseURL = url
        settings.dataDirectory = directory
        settings.databaseMaxConnections = 4
        settings.accounts.bcryptCost = 4
        settings.accounts.maxFailures = 1000
        settings.accounts.maxSignups = 1000
        // Tests act fast on a frozen clock and use every feature: on pro, unlimited. Plan tests say otherwise.
        settings.rateLimitEnabled = false
        settings.plans = Plans.standard
        settings.defaultTier("pro")
        let key = Curve25519.Signing.PrivateKey()
        settings.jwtPrivateKey = key.rawRepresentation.base64EncodedString()
        customize(&settings)
        return (settings, key)
    }

    static func run(
        _ testing: TestingSetup = .router,
        customize: (inout Settings) -> Void = { _ in },
        _ body: @Sendable (TestApp) async throws -> Void
    ) async throws {
        let (settings, key) = try await Self.settings(customize)
        let clock = TestClock()
        let logs = LogCapture()
        let logger = logs.logger()
        let server = try await Switchboard.build(settings: settings, logger: logger, clock: clock.wallClock)
        do {
            try await server.application.test(testing) { client in
                try await body(TestApp(server: server, client: client, clock: clock, signingKey: key, logs: logs, settings: settings))
            }
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }
}

extension TestApp {
    /// A second server on the same store, settings and clock, as after a restart: it knows only what the store holds.
    func restarted(_ body: @Sendable (TestApp) async throws -> Void) async throws {
        let server = try await Switchboard.build(settings: settings, logger: Logger(label: "restarted"), clock: clock.wallClock)
        do {
            try await server.application.test(.router) { client in
                try await body(TestApp(server: server, client: client, clock: clock, signingKey: signingKey, logs: logs, settings: settings))
            }
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }
}

/// Every log line the server wrote during a test.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    @Sendable func append(_ text: String) {
        lines.withLock { $0.append(contentsOf: text.split(separator: "\n").map(String.init)) }
    }

    var all: [String] { lines.withLock { $0 } }

    /// A logger whose lines (our `JSONLogHandler`'s, from `info` up) are captured here.
    func logger(label: String = "switchboard") -> Logger {
        Logger(label: label) { label in JSONLogHandler(label: label, level: .info, write: self.append) }
    }
}

/// A response decoded for assertions.
struct Reply {
    let status: Int
    let headers: HTTPFields
    let body: ByteBuffer

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: body) }
    subscript(_ key: String) -> Any? { json[key] }
    var code: String? { json["code"] as? String }
    var fieldErrors: [String: String] {
        Dictionary(((json["errors"] as? [[String: Any]]) ?? []).map { ($0["field"] as? String ?? "", $0["code"] as? String ?? "") },
                   uniquingKeysWith: { first, _ in first })
    }
}

extension TestApp {
    @discardableResult
    func request(_ method: HTTPRequest.Method, _ path: String, json: Any? = nil, token: String? = nil,
                 headers extra: HTTPFields = [:], body: ByteBuffer? = nil) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var payload = body
        if let json {
            headers[.contentType] = "application/json"
            payload = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        }
        return try await client.execute(uri: path, method: method, headers: headers, body: payload) { response in
            Reply(status: Int(response.status.code), headers: response.headers, body: response.body)
        }
    }

    func form(_ path: String, _ fields: [String: String], headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        headers[.contentType] = "application/x-www-form-urlencoded"
        let encoded = fields.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)"
        }.joined(separator: "&")
        return try await request(.post, path, headers: headers, body: ByteBuffer(string: encoded))
    }

    /// Signs a user up and returns the token response.
    func signup(_ email: String = "user-\(UUID().uuidString.prefix(8))@example.com", password: String = "correct horse battery",
                name: String? = nil) async throws -> Tokens {
        var body: [String: Any] = ["email": email, "password": password]
        if let name { body["name"] = name }
        let reply = try await request(.post, "/api/v1/auth/signup", json: body)
        try #require(reply.status == 201, "signup failed: \(reply.text)")
        return Tokens(reply)
    }

    func login(_ email: String, password: String = "correct horse battery", headers: HTTPFields = [:]) async throws -> Reply {
        try await request(.post, "/api/v1/auth/login", json: ["email": email, "password": password], headers: headers)
    }

    func refresh(_ refreshToken: String) async throws -> Reply {
        try await request(.post, "/api/v1/auth/refresh", json: ["refresh_token": refreshToken])
    }

    func me(_ token: String) async throws -> Reply {
        try await request(.get, "/api/v1/auth/me", token: token)
    }
}

struct Tokens {
    let access: String
    let refresh: String
    let userID: String
    let email: String

    init(_ reply: Reply) {
        access = reply["access_token"] as? String ?? ""
        refresh = reply["refresh_token"] as? String ?? ""
        let user = reply["user"] as? [String: Any] ?? [:]
        userID = user["id"] as? String ?? ""
        email = user["email"] as? String ?? ""
    }
}
