import App
import Blueprints
import Foundation
import HummingbirdTesting
import LLM
import NIOHTTP1
import Testing

/// `blueprints/adiuva` at its client's contract: stateless chat that answers text and actions, plan mode, playbooks
/// by tier, the WebSocket with token frames and client-executed tools, and nothing of what users write kept.
@Suite("Adiuva")
struct AdiuvaTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("blueprints/adiuva").path

    /// A server serving the blueprint with its tier matrix, and `fakes` as its models.
    static func withAdiuva(_ fakes: [FakeProvider], testing: TestingSetup = .router, rateLimits: Bool = false,
                           _ body: @Sendable (TestApp) async throws -> Void) async throws {
        let tiered = try await BlueprintConfigurationTests.settings(directory)
        try await TestApp.withFakes(fakes, testing: testing, customize: { settings in
            settings.blueprintDirectory = directory
            settings.plans = tiered.plans
            settings.accounts.tiers = tiered.accounts.tiers
            settings.accounts.defaultTier = tiered.accounts.defaultTier
            settings.rateLimitEnabled = rateLimits
        }, body)
    }

    static func text(_ file: String) throws -> String {
        try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
    }

    @Test("As the client uses it, with no key: register, refresh and me in its fields, chat with actions, a plan, playbooks by tier")
    func demo() async throws {
        let (directory, environment) = try await CLI.freshEnvironment()
        let server = try await ServerProcess.start(directory: directory, environment: environment.merging(["BLUEPRINT_DIR": Self.directory]) { $1 })
        defer { server.stop() }
        let started = Int(Date().timeIntervalSince1970)
        let registered = try await server.post("/api/v1/auth/register", json: ["email": "ada@example.com", "password": "correct horse battery"])
        let expiresAt = registered.json["expires_at"] as? Int ?? 0
        #expect(registered.status == 201 && registered.json["access_token"] is String && registered.json["refresh_token"] is String, "\(registered.json)")
        #expect(expiresAt > started && expiresAt <= started + 1_000, "expires_at in epoch seconds: \(registered.json)")
        let refreshed = try await server.post("/api/v1/auth/refresh", json: ["refresh_token": registered.json["refresh_token"] as? String ?? ""])
        #expect(refreshed.status == 200 && refreshed.json["expires_at"] is Int, "\(refreshed.json)")
        let login = try await server.post("/api/v1/auth/login", json: ["email": "ada@example.com", "password": "correct horse battery"])
        #expect(login.status == 200 && login.json["expires_at"] is Int, "\(login.json)")
        let token = login.json["access_token"] as? String ?? ""
        let me = try await server.get("/api/v1/auth/me", token: token)
        #expect(me.json["email"] as? String == "ada@example.com" && me.json["tier"] as? String == "free" && me.json["id"] is String, "\(me.json)")
        let health = try await server.request(.GET, "/api/v1/health")
        #expect(health.status == 200 && health.json["status"] as? String == "ok" && health.json["version"] is String, "\(health.json)")

        let chat = try await server.post("/api/v1/chat", json: [
            "message": "Please add a task to call the landlord", "execution_mode": "direct",
            "context": ["user_profile": ["name": "Ada"], "relevant_documents": [], "recent_tasks": [], "conversation_history": []],
        ], token: token)
        let actions = chat.json["actions"] as? [[String: Any]] ?? []
        #expect(chat.status == 200 && (chat.json["response"] as? String ?? "").contains("queued"), "\(chat.json)")
        #expect(actions.count == 1 && actions[0]["type"] as? String == "create_record" && actions[0]["table"] as? String == "tasks"
                && actions[0].keys.sorted() == ["agent", "data", "table", "type"], "\(actions)")

        let plan = try await server.post("/api/v1/chat", json: ["message": "Make a task from this email", "execution_mode": "plan",
                                                              "context": ["recent_tasks": []]], token: token)
        let steps = plan.json["steps"] as? [[String: Any]] ?? []
        #expect(plan.status == 200 && plan.json["agent"] as? String == "task" && steps.first?["prompt_template"] as? String == "extract_task",
                "\(plan.json)")
        #expect(steps.last?["data_from_step"] as? Int == 0)
        let planText = String(decoding: try JSONSerialization.data(withJSONObject: plan.json), as: UTF8.self)
        #expect(!planText.contains("The title starts with a verb"), "a template's text never leaves the server")

        let free = try await server.get("/api/v1/plans/playbook", token: token)
        #expect((free.json["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["create_task_from_email", "plan_my_day"], "\(free.json)")
        let locked = try await server.get("/api/v1/plans/playbook/weekly_report", token: token)
        #expect(locked.status == 403 && locked.json["code"] as? String == "feature_not_in_plan", "\(locked.json)")
        #expect(try await server.get("/api/v1/plans/playbook/nope", token: token).json["code"] as? String == "playbook_not_found")
        let account = try await server.get("/api/v1/account/plan", token: token)
        let limits = (account.json["limits"] as? [String: Any])?["app"] as? [String: Any]
        #expect(limits?["agents"] as? Int == 3 && limits?["cloud_storage_gb"] as? Int == 0 && limits?["active_batches"] as? Int == 2, "\(account.json)")

        let moved = try await CLI.run(["users", "set-tier", "--email", "ada@example.com", "--tier", "power"], in: directory,
                                      environment: environment.merging(["BLUEPRINT_DIR": Self.directory]) { $1 })
        #expect(moved.status == 0, "\(moved.stderr)")
        let power = try await server.get("/api/v1/plans/playbook", token: token)
        #expect((power.json["items"] as? [[String: Any]])?.count == 4, "\(power.json)")
        let weekly = try await server.get("/api/v1/plans/playbook/weekly_report", token: token)
        #expect(weekly.status == 200 && weekly.json["agent"] as? String == "weekly_review" && (weekly.json["steps"] as? [Any])?.count == 3, "\(weekly.json)")

        let contract = try await server.request(.GET, "/openapi.json")
        let paths = contract.json["paths"] as? [String: Any] ?? [:]
        for path in ["/api/v1/chat", "/api/v1/auth/register", "/api/v1/health", "/api/v1/plans/playbook", "/api/v1/plans/playbook/{plan_id}"] {
            #expect(paths[path] != nil, "\(path) is in the contract")
        }
        let schemas = (contract.json["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        let tokens = (schemas["TokenResponse"] as? [String: Any])?["properties"] as? [String: Any]
        #expect((tokens?["expires_at"] as? [String: Any])?["type"] as? String == "integer")
        #expect(schemas["AdiuvaExecutionPlan"] != nil)
    }

    @Test("Direct mode over OpenAI: the router picks the task agent with a constrained call; reads come from the context, writes become actions; nothing is kept")
    func direct() async throws {
        let marker = UUID().uuidString.lowercased()
        let fake = try await FakeProvider.start(.openai, [
            .text(#"{"agent": "task"}"#),
            .toolCalls([FakeCall("tasks_list", "{}")]),
            .toolCalls([FakeCall("task_create", #"{"title": "Call the landlord", "priority": "high", "due_date": 1796200000000}"#, id: "call_1"),
                        FakeCall("task_update", #"{"id": "t1", "status": "done", "due_date": -1}"#, id: "call_2")]),
            .text("Answer-\(marker): I queued a new task and marked the rent as paid."),
        ])
        try await Self.withAdiuva([fake]) { app in
            let user = try await app.signup()
            let reply = try await app.request(.post, "/api/v1/chat", json: [
                "message": "Message-\(marker): add a call to the landlord, and the rent is paid", "execution_mode": "direct",
                "context": ["user_profile": ["name": "Ada"], "recent_tasks": [["id": "t1", "title": "Context-\(marker) pay the rent", "status": "todo"]],
                            "relevant_documents": [], "conversation_history": []],
            ], token: user.access)
            #expect(reply.status == 200 && reply.json.keys.sorted() == ["actions", "response"], "\(reply.text)")
            let actions = reply["actions"] as? [[String: Any]] ?? []
            #expect(actions.map { $0["type"] as? String } == ["create_record", "update_record"], "\(reply.text)")
            #expect((actions.first?["data"] as? [String: Any])?["title"] as? String == "Call the landlord")
            #expect((actions.last?["data"] as? [String: Any])?["due_date"] as? Int == -1, "-1 stays 'unchanged' for the client")
            #expect(actions.allSatisfy { $0["table"] as? String == "tasks" && $0["agent"] is NSNull })

            let routing = fake.requests[0].body
            #expect(routing["response_format"]?["type"] == "json_schema", "the router's answer is constrained: \(routing.jsonString)")
            let choices = routing["response_format"]?["json_schema"]?["schema"]?["properties"]?["agent"]?["enum"]?.arrayValue ?? []
            #expect(Set(choices.compactMap(\.stringValue)) == ["task", "checkpoint", "project", "note", "weekly_review"], "\(choices)")
            #expect(fake.requests[1].body.jsonString.contains("You are the task agent"), "the task agent answers")
            #expect(fake.requests[2].body.jsonString.contains("Context-\(marker) pay the rent"), "tasks_list answers from the request's context")

            for text in ["Message-\(marker)", "Context-\(marker)", "Answer-\(marker)", "Call the landlord"] {
                #expect(try await !app.databaseHolds(text), "\(text) is in the database")
                #expect(!app.logs.all.contains { $0.contains(text) }, "\(text) is in the logs")
            }
            #expect(try await app.request(.get, "/api/v1/conversations", token: user.access)["total"] as? Int == 0)
        }
    }

    @Test("Plan mode over Anthropic: template ids and never their text, leaked prompt passages redacted, checked steps, cached plans")
    func plan() async throws {
        let leak = "Read a note with note_get before you change it, and send its whole new content with note_update"
        #expect(try Self.text("prompts/note.md").replacingOccurrences(of: "\n", with: " ").contains(leak))
        let step0 = #"{"action": {"type": "call_agent", "table": null, "data": "{}", "agent": "note"}, "prompt_template": "summarize", "variables": "{\"text\": \"\#(leak)\"}", "data_from_step": null}"#
        let step1 = #"{"action": {"type": "update_record", "table": "notes", "data": "{\"id\": \"n1\"}", "agent": null}, "prompt_template": null, "variables": "{}", "data_from_step": 0}"#
        let forward = #"{"action": {"type": "create_record", "table": "notes", "data": "{}", "agent": null}, "prompt_template": null, "variables": "{}", "data_from_step": 1}"#
        let fake = try await FakeProvider.start(.anthropic, [
            .text(#"{"agent": "note"}"#),
            .text(#"{"steps": [\#(step0), \#(step1)]}"#),
            .text(#"{"agent": "note"}"#),
            .text(#"{"steps": [\#(forward)]}"#),
        ])
        try await Self.withAdiuva([fake]) { app in
            let user = try await app.signup()
            let ask: [String: Any] = ["message": "Summarise my meeting note", "execution_mode": "plan",
                                      "context": ["relevant_documents": [["id": "n1", "kind": "note", "title": "Meeting"]]]]
            let reply = try await app.request(.post, "/api/v1/chat", json: ask, token: user.access)
            #expect(reply.status == 200 && reply["agent"] as? String == "note", "\(reply.text)")
            let steps = reply["steps"] as? [[String: Any]] ?? []
            #expect(steps.count == 2 && steps[0]["prompt_template"] as? String == "summarize" && steps[1]["data_from_step"] as? Int == 0)
            #expect(((steps[1]["action"] as? [String: Any])?["data"] as? [String: Any])?["id"] as? String == "n1", "data is an object: \(reply.text)")
            let variable = (steps[0]["variables"] as? [String: Any])?["text"] as? String ?? ""
            #expect(variable.contains("[redacted]") && !variable.contains("note_get before you change"), "a prompt passage is redacted: \(variable)")
            #expect(!reply.text.contains("three to six Markdown bullet points"), "template text stays on the server")
            #expect(app.logs.all.contains { $0.contains("output guard redacted a passage of the prompt") })

            let planner = fake.requests[1].body.jsonString
            #expect(planner.contains("summarize") && planner.contains("Summarises a text"), "the planner knows templates by id and description")
            #expect(!planner.contains("three to six Markdown bullet points"), "and never by their text")

            let again = try await app.request(.post, "/api/v1/chat", json: ask, token: user.access)
            #expect(again.status == 200 && again.text == reply.text && fake.requests.count == 2, "the same request is planned once")

            let invalid = try await app.request(.post, "/api/v1/chat", json: ["message": "Write a new note", "execution_mode": "plan"], token: user.access)
            #expect(invalid.status == 502 && invalid.code == "invalid_plan" && invalid.text.contains("data_from_step"), "\(invalid.text)")
            let mode = try await app.request(.post, "/api/v1/chat", json: ["message": "Hi", "execution_mode": "later"], token: user.access)
            #expect(mode.status == 400 && mode.fieldErrors["execution_mode"] != nil, "\(mode.text)")
            #expect(try await !app.databaseHolds("Summarise my meeting note"))
        }
    }

    @Test("Over Gemini: the router hands a review to the pipeline (each agent sees the answers before it, one synthesis answers); a confused router falls back to the task agent")
    func pipeline() async throws {
        let fake = try await FakeProvider.start(.gemini, [
            .text(#"{"agent": "weekly_review"}"#),
            .text("Projects: Garden is on track."),
            .text("Checkpoints: the fence is due Friday."),
            .text("Tasks: three open, one late."),
            .text("Your week: the garden is on track, the fence is due Friday, one task is late."),
            .text("I think the notes agent, maybe?"),
            .text("Here are your tasks."),
        ])
        try await Self.withAdiuva([fake]) { app in
            let user = try await app.signup()
            let review = try await app.request(.post, "/api/v1/chat", json: ["message": "How did my week go?"], token: user.access)
            #expect(review["response"] as? String == "Your week: the garden is on track, the fence is due Friday, one task is late.", "\(review.text)")
            let schema = fake.requests[0].body["generationConfig"]?["responseSchema"]
            #expect(schema?["properties"]?["agent"]?["enum"]?.arrayValue?.contains("weekly_review") == true, "\(fake.requests[0].body.jsonString)")
            #expect(fake.requests[2].body.jsonString.contains("Garden is on track"), "the checkpoint agent sees the project agent's answer")
            #expect(fake.requests[4].body.jsonString.contains("fence is due Friday"), "the synthesis sees every answer")

            let fallback = try await app.request(.post, "/api/v1/chat", json: ["message": "What now?"], token: user.access)
            #expect(fallback["response"] as? String == "Here are your tasks.", "\(fallback.text)")
            #expect(fake.requests[6].body.jsonString.contains("You are the task agent"), "the fallback is the task agent")
        }
    }

    @Test("The WebSocket: token frames, the final frame in the client's fields, a read the client answers itself, and no prompt passage however the tokens cut it")
    func socket() async throws {
        let leak = "you read the tasks the app sent with the message, and you create, update, complete and delete tasks"
        #expect(try Self.text("prompts/task.md").replacingOccurrences(of: "\n", with: " ").contains(leak))
        let fake = try await FakeProvider.start(.openai, [
            .text(#"{"agent": "task"}"#),
            .toolCalls([FakeCall("tasks_list", "{}")]),
            .toolCalls([FakeCall("task_create", #"{"title": "Water the plants again", "description": "Because \#(leak)."}"#)]),
            .text("My instructions say \(leak). I queued the task."),
        ])
        try await Self.withAdiuva([fake], testing: .live) { app in
            let user = try await app.signup()
            let url = "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream"
            let frames = try await ClientToolTests.converse(url: url, token: user.access,
                                                            request: #"{"message": "Repeat my plant task", "execution_mode": "direct", "context": {}}"#) { request in
                #"{"type": "tool.result", "request_id": "\#(request["request_id"]?.stringValue ?? "")", "result": [{"id": "t9", "title": "Water the plants"}]}"#
            }
            #expect(frames.first { $0["event"] == "tool.request" }?["data"]?["name"] == "tasks_list", "a read the context lacks is asked of the client: \(frames)")
            #expect(fake.requests[2].body.jsonString.contains("Water the plants"), "the client's answer reaches the model")
            let tokens = frames.filter { $0["type"] == "token" }.compactMap { $0["content"]?.stringValue }
            let final = frames.last
            #expect(final?["done"] == true && final?["actions"]?.arrayValue?.first?["type"] == "create_record", "\(frames)")
            let response = final?["response"]?.stringValue ?? ""
            #expect(response.contains("[redacted]") && response.hasSuffix("I queued the task."), "\(response)")
            #expect(tokens.count > 1 && tokens.joined() == response, "token frames carry the guarded answer: \(tokens)")
            let description = final?["actions"]?[0]?["data"]?["description"]?.stringValue ?? ""
            #expect(description.contains("[redacted]"), "a tool call's arguments pass the guard too: \(description)")
            #expect(!tokens.joined().contains("complete and delete tasks") && !frames.description.contains("complete and delete tasks"))
        }
    }

    @Test("Tier gates come from the database: free is held to 20 requests a minute and its playbooks, a move to pro opens the rest")
    func tiers() async throws {
        let fake = try await FakeProvider.start(.openai, [])
        try await Self.withAdiuva([fake], rateLimits: true) { app in
            let user = try await app.signup()
            var statuses: [Int] = []
            for _ in 0..<21 { statuses.append(try await app.request(.get, "/api/v1/plans/playbook", token: user.access).status) }
            #expect(statuses.prefix(20).allSatisfy { $0 == 200 } && statuses.last == 429, "\(statuses)")

            let other = try await app.signup()
            #expect(try await app.request(.get, "/api/v1/plans/playbook/weekly_report", token: other.access).code == "feature_not_in_plan")
            #expect(try await app.server.accounts.setTier(email: other.email, tier: "pro"))
            let pro = try await app.request(.get, "/api/v1/plans/playbook/weekly_report", token: other.access)
            #expect(pro.status == 200, "\(pro.text)")
            let plan = try await app.request(.get, "/api/v1/account/plan", token: other.access)
            #expect((plan["limits"] as? [String: Any])?["requests_per_minute"] as? Int == 60, "\(plan.text)")
        }
    }
}
