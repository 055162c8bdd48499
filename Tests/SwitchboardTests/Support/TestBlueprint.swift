import App
import Blueprints
import Foundation
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Blueprints for tests: written to a new directory, then served by a real server on a fresh store.
enum TestBlueprint {
    /// A blueprint using every field feature the collections have: types and nullable unions, enums, formats,
    /// bounds, patterns, nested arrays of objects, defaults, readonly, immutable and hidden fields, search, indexes,
    /// a shared collection with a seed, a collection behind a tier feature, and a team-owned collection.
    static let yaml = """
        blueprint: 1
        app: {name: testapp, title: Test App, prefix: /api/v1}
        routes: {auth.signup: POST /auth/register, auth.me: GET /auth/whoami}
        collections:
          tasks:
            path: /tasks
            schema:
              type: object
              required: [title]
              properties:
                title: {type: string, minLength: 1, maxLength: 120}
                status: {enum: [open, done], default: open}
                priority: {type: integer, minimum: 1, maximum: 5, default: 3}
                estimate: {type: [number, "null"], minimum: 0}
                due: {type: [string, "null"], format: date-time}
                day: {type: [string, "null"], format: date}
                done: {type: boolean, default: false}
                tags: {type: array, items: {type: string, maxLength: 20}, maxItems: 5, default: []}
                sets:
                  type: array
                  items:
                    type: object
                    required: [reps]
                    properties: {reps: {type: integer, minimum: 1}, weight_kg: {type: number}}
                code: {type: [string, "null"], pattern: "^[A-Z]{3}-[0-9]+$"}
                email: {type: [string, "null"], format: email}
                source: {type: string, immutable: true, default: web}
                score: {type: integer, readonly: true, default: 0}
                secret_note: {type: [string, "null"], hidden: true}
            search: [title]
            indexes: [[status, priority]]
            routes: {create: POST /tasks/log, get: "GET /todo/{task_id}"}
          tips:
            owner: shared
            schema:
              type: object
              required: [text]
              properties:
                text: {type: string}
                level: {enum: [easy, hard, null]}
            search: [text]
            seed: seed/tips.json
          reports:
            feature: reports
            schema: {type: object, properties: {name: {type: string}}}
          projects:
            owner: team
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string, maxLength: 80}
                status: {enum: [active, archived], default: active}
            indexes: [[status]]
        """

    static let tips = """
        [{"id": "0b8d3f7e-1111-4a4a-8b8b-000000000001", "text": "Drink water", "level": "easy"},
         {"text": "Sleep eight hours", "level": "hard"},
         {"text": "Walk after lunch"}]
        """

    /// A new directory holding `yaml` as blueprint.yaml and the files given, by relative path.
    /// Expects `yaml` to be refused with each of `expected` among its problems.
    static func expectProblems(_ yaml: String, directory: String, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BlueprintLoader.parse(yaml: yaml, directory: directory)
            Issue.record("the blueprint was accepted", sourceLocation: sourceLocation)
        } catch {
            let problems = error.problems.joined(separator: "\n")
            for message in expected {
                #expect(problems.contains(message), "missing: \(message)\n\(problems)", sourceLocation: sourceLocation)
            }
        }
    }

    static func directory(_ yaml: String = yaml, files: [String: String] = ["seed/tips.json": tips]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blueprint-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/seed", withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/blueprint.yaml", atomically: true, encoding: .utf8)
        for (path, text) in files {
            let file = URL(fileURLWithPath: directory + "/" + path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        return directory
    }
}

extension TestApp {
    /// Runs `body` against a server that serves the test blueprint (or `yaml`).
    static func withBlueprint(_ yaml: String = TestBlueprint.yaml, _ testing: TestingSetup = .router,
                              customize: @escaping (inout Settings) -> Void = { _ in },
                              _ body: @Sendable (TestApp) async throws -> Void) async throws {
        let directory = try TestBlueprint.directory(yaml)
        try await run(testing, customize: { settings in
            settings.blueprintDirectory = directory
            customize(&settings)
        }, body)
    }

    /// Runs `body` against two servers sharing one database and serving the test blueprint (two processes of one
    /// deployment, on PostgreSQL), with the access token of a user signed up through the second.
    static func withTwoProcesses(_ testing: TestingSetup,
                                 _ body: @Sendable (_ one: any TestClientProtocol, _ two: any TestClientProtocol, _ token: String) async throws -> Void)
        async throws {
        var (settings, _) = try await TestApp.settings()
        settings.blueprintDirectory = try TestBlueprint.directory()
        let logger = Logger(label: "test")
        let first = try await Switchboard.build(settings: settings, logger: logger)
        let second = try await Switchboard.build(settings: settings, logger: logger)
        do {
            try await first.application.test(testing) { one in
                try await second.application.test(testing) { two in
                    let signup = try await two.execute(uri: "/api/v1/auth/signup", method: .post, headers: [.contentType: "application/json"],
                                                       body: ByteBuffer(string: #"{"email": "two@example.com", "password": "correct horse battery"}"#))
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: signup.body)) as? [String: Any]
                    try await body(one, two, try #require(json?["access_token"] as? String))
                }
            }
        } catch {
            await second.close()
            await first.close()
            throw error
        }
        await second.close()
        await first.close()
    }

    /// Creates a record and returns it, requiring a 201.
    func create(_ path: String, _ body: [String: Any], token: String) async throws -> [String: Any] {
        let reply = try await request(.post, "/api/v1" + path, json: body, token: token)
        guard reply.status == 201 else { throw TestFailure("create \(path) answered \(reply.status): \(reply.text)") }
        return reply.json
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
