import App
import Foundation
import LLM
import Testing

/// `blueprints/slowburn` at its frontend's contract: Supabase's tokens (a test JWKS server, ES256) with the token's
/// sub as the user's id everywhere, plans and workouts of their owner only, the shared exercise library, workouts
/// logged with their sets that raise the affinity score, and a coach (Gemini's wire format) that answers JSON,
/// remembers what the user said in an earlier turn, and waits for approval before deleting.
@Suite("Slow Burn")
struct SlowBurnTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("blueprints/slowburn").path

    /// A server serving the blueprint as configured by it (external identity, memory extraction, tiers), its
    /// identity provider being `idp` and its model `fakes`.
    static func withSlowBurn(_ fakes: [FakeProvider], _ body: @Sendable (TestApp, FakeIdentityProvider) async throws -> Void) async throws {
        let idp = FakeIdentityProvider()
        let jwks = try await FakeServer.start(idp.router())
        // The blueprint's own configuration, with only the provider's address and issuer given as an operator would.
        let configured = try await BlueprintConfigurationTests.settings(directory, ["--auth-external-jwks-url", jwks.baseURL + "/.well-known/jwks.json",
                                                                                   "--auth-external-issuer", FakeIdentityProvider.issuer])
        do {
            try await TestApp.withFakes(fakes, customize: { settings in
                settings.blueprintDirectory = directory
                settings.accounts.mode = configured.accounts.mode
                settings.accounts.external = configured.accounts.external
                settings.plans = configured.plans
                settings.accounts.tiers = configured.accounts.tiers
                settings.accounts.defaultTier = configured.accounts.defaultTier
                settings.memory.extract = configured.memory.extract
                settings.memory.exchanges = configured.memory.exchanges
            }) { app in try await body(app, idp) }
        } catch {
            await jwks.stop()
            throw error
        }
        await jwks.stop()
    }

    static func reply(_ text: String, actions: [[String: Any]] = []) throws -> FakeReply {
        .text(String(decoding: try JSONSerialization.data(withJSONObject: ["reply": text, "actions": actions]), as: UTF8.self))
    }

    /// Waits until the model has been called `count` times (memory extraction runs after the answer is sent).
    static func waitForCalls(_ fake: FakeProvider, _ count: Int) async throws {
        for _ in 0..<200 where fake.requests.count < count { try await Task.sleep(for: .milliseconds(25)) }
        try #require(fake.requests.count >= count, "the model was called \(fake.requests.count) times, not \(count)")
    }

    @Test("The full loop: a Supabase token, a plan, a workout logged, the affinity score up, a chat that keeps the exchange and recalls it in a later turn, and nothing of it reaches another user")
    func fullLoop() async throws {
        let coach = try await FakeProvider.start(.gemini, [
            try Self.reply("Noted: we keep your knee out of the pounding. Bike intervals instead of runs this week."),
            .text(#"{"facts": ["The user's left knee hurts after running"]}"#),
            .toolCalls([FakeCall("plans_list", #"{"limit": 10}"#)]),
            try Self.reply("Your Leg day stays, with box squats instead of lunges for the knee.",
                           actions: [["type": "adjust_plan", "title": "Swap lunges", "plan_id": "PLAN", "details": "Box squats, 3 x 8"]]),
            .text(#"{"facts": []}"#),
        ])
        try await Self.withSlowBurn([coach]) { app, idp in
            let subject = UUID().uuidString.lowercased()
            let token = try idp.token(subject: subject, email: "sam@example.com")
            let me = try await app.request(.get, "/api/v1/auth/me", token: token)
            #expect(me.status == 200 && me["id"] as? String == subject, "the user's id is Supabase's: \(me.text)")

            // The exercise library, searched and filtered as the frontend does.
            let squats = try await app.request(.get, "/api/v1/exercises?search=SQUAT&muscle_group=legs&equipment=barbell", token: token)
            let names = (squats["items"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }.sorted()
            #expect(names == ["Back Squat", "Front Squat"], "\(squats.text)")
            #expect((try await app.request(.get, "/api/v1/exercises?per_page=100", token: token))["total"] as? Int ?? 0 >= 60)
            let unknown = try await app.request(.get, "/api/v1/exercises?muscle_group=wings", token: token)
            #expect(unknown.status == 200 && unknown["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/exercises?equipment=a&equipment=b", token: token).fieldErrors["equipment"] == "duplicate")

            let plan = try await app.request(.post, "/api/v1/plans", json: [
                "name": "Leg day", "days_per_week": 2,
                "exercises": [["exercise_id": "5b0e0000-0000-4000-8000-000000000033", "sets": 3, "reps": 8, "day": 1]],
            ], token: token)
            #expect(plan.status == 201 && plan["owner_id"] as? String == subject, "\(plan.text)")
            let planID = plan["id"] as? String ?? ""

            // A completed session with its sets, in one write that raises the affinity score.
            let logged = try await app.request(.post, "/api/v1/workouts/log", json: [
                "date": "2026-11-30", "title": "Legs", "duration_minutes": 50, "plan_id": planID,
                "sets": [["exercise_id": "5b0e0000-0000-4000-8000-000000000033", "reps": 8, "weight": 80],
                         ["exercise_id": "5b0e0000-0000-4000-8000-000000000033", "reps": 8, "weight": 80],
                         ["exercise_id": "5b0e0000-0000-4000-8000-000000000039", "reps": 10, "weight": 60]],
            ], token: token)
            #expect(logged.status == 201 && (logged["sets"] as? [Any])?.count == 3, "\(logged.text)")
            let refused = try await app.request(.post, "/api/v1/workouts/log", json: [
                "date": "2026-11-30", "sets": [["exercise_id": "5b0e0000-0000-4000-8000-000000000033", "reps": 0]],
            ], token: token)
            #expect(refused.status == 400 && refused.fieldErrors["sets.0.reps"] == "out_of_range", "\(refused.text)")
            let profile = try await app.request(.get, "/api/v1/profile", token: token)
            #expect(profile["affinity_score"] as? Int == 5 && profile["id"] as? String == subject, "a refused session raises nothing: \(profile.text)")
            #expect(try await app.request(.patch, "/api/v1/profile", json: ["affinity_score": 99], token: token).fieldErrors["affinity_score"] == "readonly")
            let november = try await app.request(.get, "/api/v1/workouts?start_date=2026-11-01&end_date=2026-11-30", token: token)
            let december = try await app.request(.get, "/api/v1/workouts?start_date=2026-12-01", token: token)
            #expect(november["total"] as? Int == 1 && december["total"] as? Int == 0, "\(november.text)")
            let notADate = try await app.request(.get, "/api/v1/workouts?start_date=last+week", token: token)
            #expect(notADate.status == 400 && notADate.fieldErrors["start_date"] == "invalid_value", "\(notADate.text)")

            // Turn 1: the coach answers in JSON; what the user said about themselves is kept.
            let first = try await app.request(.post, "/api/v1/chat", json: ["message": "My left knee hurts after running"], token: token)
            #expect(first.status == 200 && (first["reply"] as? String ?? "").hasPrefix("Noted") && (first["actions"] as? [Any])?.isEmpty == true,
                    "\(first.text)")
            let conversation = first["conversation_id"] as? String ?? ""
            let prompt = coach.requests[0].body.jsonString
            #expect(prompt.contains("affinity score is 5") && prompt.contains("plans_list") && prompt.contains("responseMimeType") == false,
                    "the score sets the tone; beside tools the JSON is asked for in words")
            try await Self.waitForCalls(coach, 2)
            var remembered: [[String: Any]] = []
            for _ in 0..<100 where remembered.count < 2 {
                remembered = (try await app.request(.get, "/api/v1/memories", token: token))["items"] as? [[String: Any]] ?? []
                if remembered.count < 2 { try await Task.sleep(for: .milliseconds(25)) }
            }
            // The exchange itself, and the fact the user stated in it.
            let kept = Dictionary(remembered.map { ($0["namespace"] as? String ?? "", $0["text"] as? String ?? "") }, uniquingKeysWith: { $1 })
            #expect(kept["facts"] == "The user's left knee hurts after running", "\(remembered)")
            #expect(kept["exchanges"]?.hasPrefix("The user said: My left knee hurts after running\nThe answer was: ") == true, "\(remembered)")

            // Turn 2: the memory of turn 1 is in the prompt; a tool reads the plans; the answer maps to the contract.
            let second = try await app.request(.post, "/api/v1/chat", json: ["message": "Build my leg day so my knee stops hurting after running",
                                                                             "conversation_id": conversation], token: token)
            let actions = second["actions"] as? [[String: Any]] ?? []
            #expect(second.status == 200 && second["conversation_id"] as? String == conversation && actions.first?["type"] as? String == "adjust_plan",
                    "\(second.text)")
            #expect(coach.requests[2].body.jsonString.contains("knee hurts after running"), "the earlier turn's memory is recalled")
            #expect(coach.requests[3].body.jsonString.contains("Leg day"), "the plans tool read the user's plan")
            try await Self.waitForCalls(coach, 5)

            // Another user: nothing of the first is theirs.
            let other = try idp.token(subject: UUID().uuidString.lowercased(), email: "alex@example.com")
            #expect((try await app.request(.get, "/api/v1/plans", token: other))["total"] as? Int == 0)
            #expect((try await app.request(.get, "/api/v1/workouts", token: other))["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/plans/\(planID)", token: other).status == 404)
            #expect(try await app.request(.delete, "/api/v1/plans/\(planID)", token: other).status == 404)
            #expect(try await app.request(.put, "/api/v1/plans/\(planID)", json: ["name": "Mine"], token: other).status == 404)
            #expect((try await app.request(.get, "/api/v1/profile", token: other))["affinity_score"] as? Int == 0)
            #expect((try await app.request(.get, "/api/v1/memories", token: other))["total"] as? Int == 0)
            #expect(try await app.request(.post, "/api/v1/chat", json: ["message": "Hi", "conversation_id": conversation], token: other).status == 404)
            #expect(coach.requests.count == 5, "no model call for a refused chat")
        }
        await coach.stop()
    }

    @Test("Deleting through the coach waits for the user's approval; the answer's JSON is null then, and the workout stays")
    func approval() async throws {
        let coach = try await FakeProvider.start(.openai, [])
        try await Self.withSlowBurn([coach]) { app, idp in
            let token = try idp.token(subject: UUID().uuidString.lowercased(), email: "kim@example.com")
            let logged = try await app.request(.post, "/api/v1/workouts/log", json: [
                "date": "2026-11-29", "sets": [["exercise_id": "5b0e0000-0000-4000-8000-000000000001", "reps": 5, "weight": 70]],
            ], token: token)
            let workout = logged["id"] as? String ?? ""
            coach.enqueue([.toolCalls([FakeCall("workouts_delete", #"{"id": "\#(workout)"}"#)])])
            let asked = try await app.request(.post, "/api/v1/chat", json: ["message": "Delete yesterday's workout"], token: token)
            #expect(asked.status == 200 && asked["status"] as? String == "awaiting_approval", "\(asked.text)")
            #expect((asked["approvals"] as? [[String: Any]])?.first?["tool"] as? String == "workouts_delete", "\(asked.text)")
            #expect(asked["reply"] is NSNull && asked["actions"] is NSNull, "no JSON answer yet: \(asked.text)")
            #expect(try await app.request(.get, "/api/v1/workouts/\(workout)", token: token).status == 200, "nothing deleted before approval")
            // OpenAI holds the model to the schema itself.
            #expect(coach.requests[0].body.jsonString.contains("coach_output") && coach.requests[0].body.jsonString.contains("json_schema"))
        }
        await coach.stop()
    }

    @Test("The contract: public exactly where no token is needed, built-in sign-in gone, the chat answer's schema; a foreign token is 401")
    func contract() async throws {
        let coach = try await FakeProvider.start(.gemini, [])
        try await Self.withSlowBurn([coach]) { app, idp in
            let contract = try await app.request(.get, "/openapi.json")
            let paths = contract["paths"] as? [String: [String: Any]] ?? [:]
            var open: Set<String> = []
            for (path, item) in paths {
                for case let (method, operation as [String: Any]) in item where (operation["security"] as? [Any])?.isEmpty == true {
                    open.insert(method.uppercased() + " " + path)
                }
            }
            #expect(open == ["GET /", "GET /health", "GET /api/v1/auth/public", "GET /ready", "GET /.well-known/jwks.json", "GET /api/v1/app",
                             "POST /api/v1/billing/webhook"], "\(open.sorted())")
            #expect(paths["/api/v1/auth/signup"] == nil && paths["/api/v1/auth/login"] == nil, "Supabase signs users in, not this server")
            for path in ["/", "/health", "/api/v1/auth/public"] {
                #expect(try await app.request(.get, path).status == 200, "\(path) without a token")
            }
            #expect(try await app.request(.get, "/api/v1/plans").status == 401)
            #expect(try await app.request(.get, "/api/v1/plans", token: try idp.token(subject: "x", issuer: "https://evil.example.com")).status == 401)
            let schemas = (contract["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
            let answer = schemas["SlowburnChatChatResponse"] as? [String: Any]
            #expect(Set((answer?["properties"] as? [String: Any] ?? [:]).keys) == ["reply", "actions", "conversation_id", "status", "approvals"])
            let list = (paths["/api/v1/exercises"]?["get"] as? [String: Any])?["parameters"] as? [[String: Any]] ?? []
            #expect(Set(list.compactMap { $0["name"] as? String }).isSuperset(of: ["search", "muscle_group", "equipment"]))
        }
        await coach.stop()
    }
}
