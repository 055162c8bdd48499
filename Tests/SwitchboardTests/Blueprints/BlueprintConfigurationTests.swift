import App
import Blueprints
import Core
import Foundation
import Testing

/// What a blueprint configures: its own tier matrix (configuration at the lowest precedence, so flags and the
/// environment still win) and its flags (declared with defaults, set by configuration, read by rules as `@flag.*`).
@Suite("Blueprint configuration: tiers and flags")
struct BlueprintConfigurationTests {
    static let yaml = """
        blueprint: 1
        app: {name: tiered, title: Tiered}
        tiers:
          free: {requests_per_minute: 5, monthly_tokens: 1000, storage_mb: 1, features: [chat, tasks], default: true}
          pro: {requests_per_minute: 50, monthly_tokens: 100000, features: [chat, tasks, reports, api_keys], stripe_price: price_pro}
          studio: {requests_per_minute: 500, monthly_tokens: 9000000, storage_mb: 20480, features: [chat, tasks, reports, "agent:*"], per_seat: true}
        collections:
          tasks:
            feature: tasks
            schema: {type: object, properties: {title: {type: string}}}
          reports:
            feature: reports
            schema: {type: object, properties: {name: {type: string}}}
        """

    /// The settings a server started with `serve --blueprint DIR` and `arguments` reads.
    static func settings(_ directory: String, _ arguments: [String] = []) async throws -> Settings {
        try Settings(reader: try await Settings.reader(arguments: ["--blueprint-dir", directory] + arguments, environmentFile: "/nonexistent/.env"))
    }

    @Test("The blueprint's tiers become the feature matrix; a flag still overrides any of their keys")
    func matrix() async throws {
        let directory = try TestBlueprint.directory(Self.yaml, files: [:])
        let settings = try await Self.settings(directory, ["--tiers-pro-requests-per-minute", "99"])
        #expect(settings.plans.order == ["free", "pro", "studio"])
        #expect(settings.plans.defaultTier == "free")
        let free = settings.plans.tier("free")
        #expect(free.requestsPerMinute == 5 && free.monthlyTokens == 1000 && free.storageBytes == Plans.megabyte)
        #expect(free.features == ["chat", "tasks"])
        let pro = settings.plans.tier("pro")
        #expect(pro.requestsPerMinute == 99, "flags override the blueprint")
        #expect(pro.stripePrice == "price_pro")
        #expect(pro.storageBytes == Plans.standard.tier("pro").storageBytes, "a known tier keeps what the blueprint leaves out")
        let studio = settings.plans.tier("studio")
        #expect(studio.perSeat && studio.includes("agent:coach") && studio.storageBytes == 20_480 * Plans.megabyte)

        let plain = try await Self.settings("/nonexistent")
        #expect(plain.plans.order == Plans.standard.order, "without a blueprint, the standard matrix")
    }

    @Test("Served: new users start on the blueprint's default tier, and its features open or close the collections")
    func served() async throws {
        let directory = try TestBlueprint.directory(Self.yaml, files: [:])
        let tiered = try await Self.settings(directory)
        try await TestApp.withBlueprint(Self.yaml, customize: { settings in
            settings.plans = tiered.plans
            settings.accounts.tiers = tiered.accounts.tiers
            settings.accounts.defaultTier = tiered.accounts.defaultTier
        }) { app in
            let user = try await app.signup()
            let plan = try await app.request(.get, "/api/v1/account/plan", token: user.access)
            #expect(plan["tier"] as? String == "free")
            let limits = plan["limits"] as? [String: Any]
            #expect(limits?["requests_per_minute"] as? Int == 5)
            #expect(limits?["features"] as? [String] == ["chat", "tasks"])
            #expect(try await app.request(.get, "/api/v1/tasks", token: user.access).status == 200)
            let closed = try await app.request(.get, "/api/v1/reports", token: user.access)
            #expect(closed.status == 403 && closed.code == "feature_not_in_plan")
        }
    }

    @Test("blueprint check reports bad tiers with their lines")
    func check() {
        let yaml = """
            blueprint: 1
            app: {name: tiered}
            tiers:
              free: {requests_per_minute: 0, default: true}
              Gold: {requests_per_minute: 10, monthly_tokens: 10}
              studio: {features: "chat", default: true, bogus: 1}
            collections: {}
            """
        do {
            _ = try BlueprintLoader.parse(yaml: yaml, directory: "/tmp")
            Issue.record("the blueprint was accepted")
        } catch {
            let problems = error.problems
            let expected = ["blueprint.yaml:3: tiers: only one tier can be the default",
                            "blueprint.yaml:4: tiers.free.requests_per_minute: must be an integer",
                            "blueprint.yaml:5: tiers.Gold: a tier's name", "blueprint.yaml:6: tiers.studio.bogus: is not a known key",
                            "blueprint.yaml:6: tiers.studio: a new tier needs requests_per_minute and monthly_tokens",
                            "blueprint.yaml:6: tiers.studio.features: must be a list"]
            #expect(problems.count == expected.count, "\(problems.joined(separator: "\n"))")
            for start in expected { #expect(problems.contains { $0.hasPrefix(start) }, "missing: \(start)\n\(problems.joined(separator: "\n"))") }
        }
    }

    @Test("A blueprint's models and tier limits become configuration (a mock's script is a file of the blueprint); bad ones are named")
    func modelsAndLimits() async throws {
        let yaml = """
            blueprint: 1
            app: {name: shipped}
            models:
              demo: {provider: mock, script: demo/script.json}
            tiers:
              free: {limits: {agents: 3, backup_gb: -1}, default: true}
            """
        let directory = try TestBlueprint.directory(yaml, files: ["demo/script.json": #"{"turns": [{"replies": [{"text": "Scripted."}]}]}"#])
        let settings = try await Self.settings(directory)
        #expect(settings.models.map(\.name) == ["demo"] && settings.models.first?.mockScript != nil, "\(settings.models.map(\.name))")
        #expect(settings.plans.tier("free").limits == ["agents": 3, "backup_gb": -1])
        let environment = try await Self.settings(directory, ["--models", "other", "--models-other-provider", "mock"])
        #expect(environment.models.map(\.name) == ["other"], "configuration still wins over the blueprint")

        TestBlueprint.expectProblems("""
            blueprint: 1
            app: {name: shipped}
            models:
              demo: {script: demo/missing.json, colour: red}
            tiers:
              free: {limits: {agents: -2, Bad: 1}}
            """, directory: directory, [
            "blueprint.yaml:4: models.demo.provider: is required", "models.demo.colour: is not a known key",
            "models.demo.script: demo/missing.json does not exist", "tiers.free.limits.Bad: must be a name",
            "tiers.free.limits.agents: must be a name",
        ])
    }

    @Test("config: sets auth.*, memory.*, chat.* and google.* at the lowest precedence; query: and output: are checked with their lines")
    func configQueryAndOutput() async throws {
        let yaml = """
            blueprint: 1
            app: {name: configured}
            config:
              auth.mode: external
              auth.external.issuer: https://idp.example.com/auth/v1
              auth.external.jwks_url: https://idp.example.com/auth/v1/.well-known/jwks.json
              auth.external.audience: authenticated
              auth.external.algorithms: [ES256]
              memory.extract: true
            """
        let directory = try TestBlueprint.directory(yaml, files: [:])
        let settings = try await Self.settings(directory)
        #expect(settings.accounts.mode == .external && settings.accounts.external?.audience == "authenticated" && settings.memory.extract)
        let overridden = try await Self.settings(directory, ["--memory-extract", "false"])
        #expect(overridden.memory.extract == false, "configuration still wins over the blueprint")

        let strict = #"{"type": "object", "additionalProperties": false, "required": ["reply"], "properties": {"reply": {"type": "string"}}}"#
        let loose = #"{"type": "object", "properties": {"reply": {"type": "string"}, "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}"#
        let files = ["prompts/a.md": "You answer.", "schemas/strict.json": strict, "schemas/loose.json": loose]
        let checked = try TestBlueprint.directory(yaml, files: files)
        TestBlueprint.expectProblems("""
            blueprint: 1
            app: {name: configured}
            config: {http.port: 9, auth.mode: [1, 2]}
            collections:
              notes:
                schema: {type: object, properties: {text: {type: string}, stars: {type: integer}}}
                query: {page: "text = @query", colour: "colour = @query", fixed: "stars = 3", q_alias: q, bad: "text = = @query"}
            agents:
              loose: {description: Loose, system: prompts/a.md, tools: [], output: schemas/loose.json}
              strict: {description: Strict, system: prompts/a.md, tools: [], output: schemas/strict.json}
            chat_routes:
              - {path: /ask, agent: strict, request: {q: content}, response: {answer: output.reply, other: output.missing}}
              - {path: /plain, agent: loose, request: {q: content}, response: {whole: output}}
            """, directory: checked, [
            "config.auth.mode: must be text", "config.http.port: is not a key an app sets",
            "collections.notes.query.page: must be a lowercase name that is not one of", "collections.notes.query.colour: colour is not a field of notes",
            "collections.notes.query.fixed: must use the parameter's value, @query", "collections.notes.query.q_alias: q searches the fields under search:",
            "collections.notes.query.bad: the filter", "agents.loose.output: schemas/loose.json: the schema must list every property under required",
            "the schema.items[] must say additionalProperties: false", "chat_routes.0.response.other: output.missing is not a property",
        ])
    }

    static let flagged = """
        blueprint: 1
        app: {name: flagged}
        flags:
          beta: {default: false, description: Beta features}
          signup_open: {default: true, public: true}
        collections:
          notes:
            schema: {type: object, properties: {text: {type: string}}}
            rules: {create: "@flag.beta = true", list: "@flag.signup_open = true"}
        """

    @Test("Flags: declared with a default, set by configuration (flags.<name>), read by rules as @flag.<name>, public ones shown at /api/v1/app")
    func flags() async throws {
        let directory = try TestBlueprint.directory(Self.flagged, files: [:])
        #expect(try await Self.settings(directory).flags.isEmpty, "nothing configured: the blueprint's defaults hold")
        let configured = try await Self.settings(directory, ["--flags-beta", "true"])
        #expect(configured.flags == ["beta": true])
        await #expect(throws: SettingsError.self) { _ = try await Self.settings(directory, ["--flags-beta", "maybe"]) }

        try await TestApp.withBlueprint(Self.flagged) { app in
            let user = try await app.signup()
            let refused = try await app.request(.post, "/api/v1/notes", json: ["text": "early"], token: user.access)
            #expect(refused.status == 403 && refused.code == "rule_failed", "beta is off by default")
            #expect(try await app.request(.get, "/api/v1/notes", token: user.access).status == 200)
        }
        try await TestApp.withBlueprint(Self.flagged, customize: { $0.flags = configured.flags }) { app in
            let info = try await app.request(.get, "/api/v1/app")
            #expect(info.status == 200, "public: no token needed")
            #expect(info["name"] as? String == "flagged")
            #expect(info["flags"] as? [String: Bool] == ["signup_open": true], "public flags only, as configured")
            let collections = info["collections"] as? [[String: Any]]
            #expect(collections?.first?["path"] as? String == "/api/v1/notes" && collections?.first?["owner"] as? String == "user")
            let user = try await app.signup()
            #expect(try await app.request(.post, "/api/v1/notes", json: ["text": "early"], token: user.access).status == 201, "beta turned on")
            #expect(try await app.request(.get, "/api/v1/notes", token: user.access)["total"] as? Int == 1)
        }
        try await TestApp.run { app in
            let none = try await app.request(.get, "/api/v1/app")
            #expect(none.status == 404 && none.code == "no_app", "a server without a blueprint serves no app")
        }
        let unknown = Self.flagged.replacingOccurrences(of: "@flag.beta", with: "@flag.gamma")
        #expect(throws: BlueprintError.self) { _ = try BlueprintLoader.parse(yaml: unknown, directory: "/tmp") }
    }
}
