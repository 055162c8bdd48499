import App
import Blueprints
import Core
import Foundation
import Logging
import Storage
import Testing

@Suite("Blueprint files and schema changes")
struct BlueprintSchemaTests {
    static func yaml(_ fields: String, indexes: String = "[]") -> String {
        """
        blueprint: 1
        app: {name: evolving}
        collections:
          notes:
            schema:
              type: object
              properties:
        \(fields)
            indexes: \(indexes)
        """
    }

    @Test("Serve applies additive changes itself and refuses destructive ones until blueprint apply --allow-destructive ran")
    func evolve() async throws {
        let (base, _) = try await TestApp.settings()
        let logger = Logger(label: "test")
        func serve(_ yaml: String) async throws -> Switchboard {
            var settings = base
            settings.blueprintDirectory = try TestBlueprint.directory(yaml, files: [:])
            return try await Switchboard.build(settings: settings, logger: logger)
        }
        let first = try await serve(Self.yaml("          title: {type: string}\n          status: {type: string}"))
        let owner = try await first.accounts.createUser(email: "owner@example.com", password: "correct horse", name: nil, tier: "free")
        try await first.database.run("""
            INSERT INTO app_evolving_notes (id, owner_id, created_at, updated_at, title) VALUES ('n1', \(bind: owner.id.lowercased), 0, 0, 'kept')
            """)
        await first.close()

        let second = try await serve(Self.yaml("          title: {type: string}\n          status: {type: string}\n          words: {type: integer}",
                                               indexes: "[[words]]"))
        let row = try #require(try await second.database.first("SELECT title, words FROM app_evolving_notes WHERE id = 'n1'"))
        #expect(try row.decode(column: "title", as: String.self) == "kept", "additive changes keep the data")
        #expect(try row.decodeNil(column: "words"))
        let blueprint = try BlueprintLoader.parse(yaml: Self.yaml("          title: {type: string}\n          status: {type: string}\n          words: {type: integer}",
                                                                  indexes: "[[words]]"), directory: "/tmp")
        #expect(try await CollectionSchema.plan(blueprint, db: second.database).isEmpty, "the added column and index are in place")
        await second.close()

        let shrunk = Self.yaml("          title: {type: string}\n          words: {type: string}")
        await #expect(throws: StartupError.self) { _ = try await serve(shrunk) }
        var settings = base
        settings.blueprintDirectory = "/nonexistent"
        let store = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        let smaller = try BlueprintLoader.parse(yaml: shrunk, directory: "/tmp")
        let plan = try await CollectionSchema.plan(smaller, db: store)
        #expect(plan.additive.isEmpty)
        #expect(plan.destructive.contains("ALTER TABLE \"app_evolving_notes\" DROP COLUMN \"status\""), "\(plan.description)")
        #expect(plan.destructive.contains { $0.contains("DROP COLUMN \"words\"") }, "a changed type is listed as destructive")
        await #expect(throws: BlueprintError.self) {
            try await CollectionSchema.apply(smaller, db: store, allowDestructive: false, logger: logger)
        }
        try await CollectionSchema.apply(smaller, db: store, allowDestructive: true, logger: logger)
        #expect(try await CollectionSchema.plan(smaller, db: store).isEmpty)
        let versions = try await store.all("SELECT version FROM blueprint_migrations WHERE app = 'evolving' ORDER BY version")
        #expect(try versions.map { try $0.decode(column: "version", as: Int64.self) } == [1, 2, 3])
        try await store.close()
        let third = try await serve(shrunk)
        await third.close()
    }

    @Test("A collection whose ownership changes between users and teams is rebuilt, which is destructive")
    func ownershipChange() async throws {
        let (settings, _) = try await TestApp.settings()
        let logger = Logger(label: "test")
        let store = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        try await Migrator(database: store, migrations: Schema.migrations, logger: logger).migrate()
        let byUser = try BlueprintLoader.parse(yaml: Self.yaml("          title: {type: string}"), directory: "/tmp")
        try await CollectionSchema.apply(byUser, db: store, allowDestructive: false, logger: logger)
        let byTeam = try BlueprintLoader.parse(yaml: Self.yaml("          title: {type: string}").replacingOccurrences(of: "  notes:\n", with: "  notes:\n    owner: team\n"),
                                               directory: "/tmp")
        #expect(byTeam.collections.first?.owner == .team)
        let plan = try await CollectionSchema.plan(byTeam, db: store)
        #expect(plan.additive.isEmpty, "\(plan.description)")
        #expect(plan.destructive.first == "DROP TABLE \"app_evolving_notes\"", "\(plan.description)")
        #expect(plan.destructive.contains { $0.contains("\"team_id\" TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE") })
        await #expect(throws: BlueprintError.self) { try await CollectionSchema.apply(byTeam, db: store, allowDestructive: false, logger: logger) }
        try await CollectionSchema.apply(byTeam, db: store, allowDestructive: true, logger: logger)
        #expect(try await CollectionSchema.plan(byTeam, db: store).isEmpty)
        try await store.close()
    }

    @Test("Processes starting together apply a blueprint once")
    func concurrentStarts() async throws {
        let (settings, _) = try await TestApp.settings()
        let logger = Logger(label: "test")
        let store = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, maxConnections: 8, logger: logger)
        try await Migrator(database: store, migrations: Schema.migrations, logger: logger).migrate()
        let blueprint = try BlueprintLoader.parse(yaml: Self.yaml("          title: {type: string}"), directory: "/tmp")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { try await CollectionSchema.apply(blueprint, db: store, allowDestructive: false, logger: logger) }
            }
            try await group.waitForAll()
        }
        let versions = try await store.all("SELECT version FROM blueprint_migrations WHERE app = 'evolving'")
        #expect(versions.count == 1)
        try await store.close()
    }

    @Test("blueprint check reports every problem with its line, in file order")
    func check() throws {
        let yaml = """
            blueprint: 1
            app: {name: Bad-Name}
            routers: {}
            collections:
              tasks:
                owner: teams
                path: tasks
                schema:
                  type: object
                  required: [title, ghost]
                  properties:
                    title: {type: strin}
                    created_at: {type: string}
                    due: {type: string, format: datetime}
                    code: {type: string, pattern: "([a-"}
                    n: {type: integer, default: "x"}
                search: [n]
              seeded:
                seed: ../outside.json
                schema: {type: object, properties: {a: {type: string}}}
            """
        let problems = try #require(throwing(yaml))
        let expected = [
            "blueprint.yaml:2: app.name:", "blueprint.yaml:3: routers: is not a known key here",
            "blueprint.yaml:6: collections.tasks.owner: must be user, team or shared",
            "blueprint.yaml:7: collections.tasks.path:", "blueprint.yaml:10: collections.tasks.schema.required: ghost",
            "blueprint.yaml:12: collections.tasks.schema.properties.title.type: strin",
            "blueprint.yaml:13: collections.tasks.schema.properties.created_at: created_at is a column every record has",
            "blueprint.yaml:14: collections.tasks.schema.properties.due.format:",
            "blueprint.yaml:15: collections.tasks.schema.properties.code.pattern:",
            "blueprint.yaml:16: collections.tasks.schema.properties.n.default:",
            "blueprint.yaml:17: collections.tasks.search.0: n is not a text field",
            "blueprint.yaml:19: collections.seeded.seed: must be a file inside",
        ]
        #expect(problems.count == expected.count, "\(problems.joined(separator: "\n"))")
        for (problem, start) in zip(problems, expected) { #expect(problem.hasPrefix(start), "\(problem)") }
        #expect(throwing("blueprint: 1\napp: {name: x}\ncollections:\n  a: [1, 2\n")?.first?.contains("blueprint.yaml") == true,
                "YAML syntax errors are reported too")
        #expect(throwing("blueprint: 1\napp: {name: ok}\ncollections: {}\n") == nil)
    }

    private func throwing(_ yaml: String) -> [String]? {
        do {
            _ = try BlueprintLoader.parse(yaml: yaml, directory: "/tmp")
            return nil
        } catch {
            return error.problems
        }
    }
}
