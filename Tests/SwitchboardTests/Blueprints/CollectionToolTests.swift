import Agents
import App
import Blueprints
import Foundation
import LLM
import Testing

/// A blueprint's agents and the tools generated from its collections, driven by fake providers in each wire format.
@Suite("Blueprint agents: tools generated from collections")
struct CollectionToolTests {
    static let yaml = TestBlueprint.yaml + """

        agents:
          planner:
            description: Plans the user's tasks
            system: prompts/planner.md
            tools: [tasks.*, tips.list, current_time]
            max_iterations: 6
        """
    static let files = ["seed/tips.json": TestBlueprint.tips, "prompts/planner.md": "You plan the user's tasks. Use the tools."]

    @Test("An agent creates and lists records through the tools, as the turn's user, and recovers from a validation error",
          arguments: FakeProvider.Kind.allCases)
    func endToEnd(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("tasks_create", #"{"title": "Buy milk", "priority": 2}"#)]),
            .toolCalls([FakeCall("tasks_create", #"{"title": ""}"#)]),
            .toolCalls([FakeCall("tasks_list", #"{"where": [{"field": "status", "op": "=", "value": "open"}], "sort": "-priority", "limit": 5}"#)]),
            .text("You have one open task: Buy milk."),
        ])
        let directory = try TestBlueprint.directory(Self.yaml, files: Self.files)
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let agents = try await app.request(.get, "/api/v1/app")["agents"] as? [[String: Any]]
            #expect(agents?.map { $0["name"] as? String } == ["planner"], "frontends see the app's agents")
            let user = try await app.signup()
            let other = try await app.signup()
            _ = try await app.create("/tasks", ["title": "Someone else's"], token: other.access)
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Remind me to buy milk", token: user.access, extra: ["agent": "planner"])
            #expect(reply.status == 200, "\(reply.text)")
            #expect((reply["message"] as? [String: Any])?.text == "You have one open task: Buy milk.")

            let tasks = try await app.request(.get, "/api/v1/tasks", token: user.access)
            #expect(tasks["total"] as? Int == 1)
            let task = try #require((tasks["items"] as? [[String: Any]])?.first)
            #expect(task["title"] as? String == "Buy milk" && task["owner_id"] as? String == user.userID, "created as the turn's user")

            let results = try await app.messages(conversation, token: user.access).flatMap(\.toolResults)
            #expect(results.count == 3)
            #expect(results[0]["is_error"] as? Bool == false)
            #expect(((results[0]["content"] as? [String: Any])?["data"] as? [String: Any])?["title"] as? String == "Buy milk",
                    "results are wrapped as data")
            #expect(results[1]["is_error"] as? Bool == true, "an invalid record is an error the model reads")
            #expect("\(results[1]["content"] ?? "")".contains("title"), "\(results[1])")
            let listed = (results[2]["content"] as? [String: Any])?["data"] as? [String: Any]
            #expect(listed?["total"] as? Int == 1, "only the user's own records: \(String(describing: listed))")

            let offered = Set(fake.requests[0].body.toolNames(kind))
            #expect(offered.isSuperset(of: ["tasks_list", "tasks_get", "tasks_create", "tasks_update", "tasks_delete", "tasks_aggregate",
                                             "tips_list", "current_time"]))
        }
    }

    static let hookYAML = """
        blueprint: 1
        app: {name: fit}
        profile:
          affinity_score: {type: integer, default: 0, minimum: 0, readonly: true}
        collections:
          workouts:
            schema:
              type: object
              required: [note]
              properties: {note: {type: string, minLength: 1}, locked: {type: boolean, default: false}}
            rules: {update: "locked = false"}
            hooks:
              after_create:
                - increment: {profile: affinity_score, by: 2}
        agents:
          coach: {description: Coaches, system: prompts/coach.md, tools: [workouts.*]}
        """

    @Test("Through the tools, a create fires the collection's hooks and its update rule refuses as over REST",
          arguments: FakeProvider.Kind.allCases)
    func hooksAndRules(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [])
        let directory = try TestBlueprint.directory(Self.hookYAML, files: ["prompts/coach.md": "You coach."])
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let locked = try #require(try await app.create("/workouts", ["note": "Old", "locked": true], token: user.access)["id"] as? String)
            fake.enqueue([
                .toolCalls([FakeCall("workouts_create", #"{"note": "Ran 5 km"}"#)]),
                .toolCalls([FakeCall("workouts_update", #"{"id": "\#(locked)", "changes": {"note": "Edited"}}"#)]),
                .text("Logged your run; the old workout is locked."),
            ])
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Log my run", token: user.access, extra: ["agent": "coach"])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(try await app.request(.get, "/api/v1/profile", token: user.access)["affinity_score"] as? Int == 4,
                    "the REST create and the tool's create each fired the hook")
            let results = try await app.messages(conversation, token: user.access).flatMap(\.toolResults)
            #expect(results.map { $0["is_error"] as? Bool } == [false, true], "\(results)")
            #expect(try await app.request(.get, "/api/v1/workouts/\(locked)", token: user.access)["note"] as? String == "Old",
                    "the update rule held")
        }
    }

    @Test("blueprint check: agents need a prompt file, name collections and operations that exist, and approvals for their tools")
    func check() {
        let yaml = TestBlueprint.yaml + """

            agents:
              planner:
                description: Plans
                system: prompts/missing.md
                tools: [tasks.delete, ghosts.list, tasks.fly, current_time]
                approvals: {tasks.list: always, current_time: {when: "x = 1"}, tasks.delete: {when: "@auth.id = 'x'"}, tips.get: never}
            """
        let directory: String
        do { directory = try TestBlueprint.directory(yaml) } catch { Issue.record("\(error)"); return }
        TestBlueprint.expectProblems(yaml, directory: directory, ["agents.planner.system: prompts/missing.md does not exist",
                             "agents.planner.tools.1: there is no collection ghosts", "agents.planner.tools.2: must be tasks.*",
                             "agents.planner.approvals.tasks.list: is not one of the agent's tools",
                             "agents.planner.approvals.current_time.when: conditions apply to a collection's tools only",
                             "agents.planner.approvals.tasks.delete.when: reads the call's fields", "agents.planner.approvals.tips.get: is not one"])
    }
}

extension JSONValue {
    /// The tool names a request body offers the model, in each provider's shape.
    func toolNames(_ kind: FakeProvider.Kind) -> [String] {
        let tools = self["tools"]?.arrayValue ?? []
        switch kind {
        case .openai: return tools.compactMap { $0["function"]?["name"]?.stringValue }
        case .anthropic: return tools.compactMap { $0["name"]?.stringValue }
        case .gemini: return tools.flatMap { $0["functionDeclarations"]?.arrayValue ?? [] }.compactMap { $0["name"]?.stringValue }
        }
    }
}
