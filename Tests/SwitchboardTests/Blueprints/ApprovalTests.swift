import Agents
import App
import Blueprints
import Foundation
import LLM
import Testing

/// Human approval of an agent's tool calls: the turn pauses, the user decides, the conversation goes on.
@Suite("Blueprint agents: human approval of tool calls")
struct ApprovalTests {
    static let yaml = TestBlueprint.yaml + """

        agents:
          planner:
            description: Plans the user's tasks
            system: prompts/planner.md
            tools: [tasks.*, current_time]
            approvals: {tasks.update: {when: "@body.status = 'done'"}}
        """
    static let files = ["seed/tips.json": TestBlueprint.tips, "prompts/planner.md": "You plan the user's tasks. Use the tools."]

    /// The app with a fake provider whose replies each test enqueues once it knows its records' ids.
    static func withApp(kind: FakeProvider.Kind = .openai, _ body: @Sendable (TestApp, FakeProvider) async throws -> Void) async throws {
        let fake = try await FakeProvider.start(kind, [])
        let directory = try TestBlueprint.directory(Self.yaml, files: Self.files)
        try await TestApp.withFakes([fake], customize: { settings in
            settings.blueprintDirectory = directory
            settings.chat.approvalTimeout = .seconds(600)
        }) { app in try await body(app, fake) }
    }

    static func approvals(_ app: TestApp, _ conversation: String, token: String) async throws -> [[String: Any]] {
        let reply = try await app.request(.get, "/api/v1/conversations/\(conversation)/approvals", token: token)
        try #require(reply.status == 200, "\(reply.text)")
        return reply["items"] as? [[String: Any]] ?? []
    }

    static func decide(_ app: TestApp, _ conversation: String, _ approval: String, token: String, _ body: [String: Any]) async throws -> Reply {
        try await app.request(.post, "/api/v1/conversations/\(conversation)/approvals/\(approval)", json: body, token: token)
    }

    @Test("A delete waits for the owner's approval, then runs and the turn goes on; nobody else can decide, nor anyone twice",
          arguments: FakeProvider.Kind.allCases)
    func approve(kind: FakeProvider.Kind) async throws {
        try await Self.withApp(kind: kind) { app, fake in
            let user = try await app.signup()
            let other = try await app.signup()
            let taskID = try #require(try await app.create("/tasks", ["title": "Old chore"], token: user.access)["id"] as? String)
            fake.enqueue([.toolCalls([FakeCall("tasks_delete", #"{"id": "\#(taskID)"}"#)]), .text("Deleted it.")])
            let conversation = try await app.conversation(user.access)
            let paused = try await app.send(conversation, "Delete my old chore", token: user.access, extra: ["agent": "planner"])
            #expect(paused.status == 200, "\(paused.text)")
            #expect(paused["status"] as? String == "awaiting_approval")
            let approval = try #require((paused["approvals"] as? [[String: Any]])?.first)
            #expect(approval["tool"] as? String == "tasks_delete" && approval["status"] as? String == "pending")
            let id = try #require(approval["id"] as? String)
            #expect(try await app.request(.get, "/api/v1/tasks/\(taskID)", token: user.access).status == 200, "not run before approval")
            #expect(try await Self.approvals(app, conversation, token: user.access).map { $0["status"] as? String } == ["pending"])

            #expect(try await Self.decide(app, conversation, id, token: other.access, ["decision": "approve"]).status == 404)
            #expect(try await app.request(.get, "/api/v1/conversations/\(conversation)/approvals", token: other.access).status == 404)
            let resumed = try await Self.decide(app, conversation, id, token: user.access, ["decision": "approve"])
            #expect(resumed.status == 200, "\(resumed.text)")
            #expect(resumed["status"] as? String == "complete")
            #expect((resumed["message"] as? [String: Any])?.text == "Deleted it.")
            #expect(try await app.request(.get, "/api/v1/tasks/\(taskID)", token: user.access).status == 404, "run once approved")
            let again = try await Self.decide(app, conversation, id, token: user.access, ["decision": "reject"])
            #expect(again.status == 409 && again["code"] as? String == "approval_decided", "\(again.text)")
            #expect(try await Self.approvals(app, conversation, token: user.access).map { $0["status"] as? String } == ["approved"])

            #expect(fake.requests.count == 2)
            let results = try await app.messages(conversation, token: user.access).flatMap(\.toolResults)
            #expect(results.count == 1 && results.first?["is_error"] as? Bool == false, "\(results)")
            #expect(fake.requests.last.map { $0.body.jsonString.contains(taskID) } == true, "the model reads the result")
        }
    }

    @Test("Reject with a reason, a condition that does not hold, and an edit (refused arguments first)")
    func rejectAndEdit() async throws {
        try await Self.withApp { app, fake in
            let user = try await app.signup()
            let taskID = try #require(try await app.create("/tasks", ["title": "Chore"], token: user.access)["id"] as? String)
            fake.enqueue([
                .toolCalls([FakeCall("tasks_update", #"{"id": "\#(taskID)", "changes": {"status": "done"}}"#)]),
                .text("All right, I left it open."),
                .toolCalls([FakeCall("tasks_update", #"{"id": "\#(taskID)", "changes": {"title": "Renamed"}}"#)]),
                .text("Renamed it."),
                .toolCalls([FakeCall("tasks_update", #"{"id": "\#(taskID)", "changes": {"status": "done", "priority": 5}}"#)]),
                .text("Marked it done."),
            ])
            let conversation = try await app.conversation(user.access)
            let first = try await app.send(conversation, "Finish it", token: user.access, extra: ["agent": "planner"])
            let firstID = try #require((first["approvals"] as? [[String: Any]])?.first?["id"] as? String, "\(first.text)")
            let rejected = try await Self.decide(app, conversation, firstID, token: user.access,
                                                 ["decision": "reject", "reason": "I have not finished it yet"])
            #expect(rejected.status == 200 && (rejected["message"] as? [String: Any])?.text == "All right, I left it open.", "\(rejected.text)")
            #expect(fake.requests[1].body.jsonString.contains("I have not finished it yet"), "the model reads the reason")
            #expect(try await app.request(.get, "/api/v1/tasks/\(taskID)", token: user.access)["status"] as? String == "open")

            let renamed = try await app.send(conversation, "Rename it", token: user.access, extra: ["agent": "planner"])
            #expect(renamed["status"] as? String == "complete", "a change the condition does not cover runs at once: \(renamed.text)")
            #expect(try await app.request(.get, "/api/v1/tasks/\(taskID)", token: user.access)["title"] as? String == "Renamed")

            let third = try await app.send(conversation, "Now finish it", token: user.access, extra: ["agent": "planner"])
            let thirdID = try #require((third["approvals"] as? [[String: Any]])?.first?["id"] as? String, "\(third.text)")
            let invalid = try await Self.decide(app, conversation, thirdID, token: user.access,
                                                ["decision": "edit", "arguments": ["id": taskID, "changes": ["priority": 9]]])
            #expect(invalid.status == 400 && "\(invalid.text)".contains("arguments"), "\(invalid.text)")
            let missing = try await Self.decide(app, conversation, thirdID, token: user.access, ["decision": "edit"])
            #expect(missing.status == 400)
            let edited = try await Self.decide(app, conversation, thirdID, token: user.access,
                                               ["decision": "edit", "arguments": ["id": taskID, "changes": ["status": "done"]]])
            #expect(edited.status == 200, "\(edited.text)")
            let task = try await app.request(.get, "/api/v1/tasks/\(taskID)", token: user.access)
            #expect(task["status"] as? String == "done" && task["priority"] as? Int == 3, "run with the user's arguments: \(task.text)")
            let decided = try await Self.approvals(app, conversation, token: user.access)
            #expect(decided.map { $0["status"] as? String } == ["rejected", "edited"])
            #expect(decided.first?["reason"] as? String == "I have not finished it yet")
        }
    }

    @Test("Calls that would be refused never wait: the model gets the error at once")
    func refusedNeverWait() async throws {
        try await Self.withApp { app, fake in
            let user = try await app.signup()
            let other = try await app.signup()
            let theirs = try #require(try await app.create("/tasks", ["title": "Theirs"], token: other.access)["id"] as? String)
            fake.enqueue([
                .toolCalls([FakeCall("tasks_delete", #"{"id": "\#(theirs)"}"#), FakeCall("tasks_delete", #"{"id": "not-a-uuid"}"#)]),
                .text("I could not delete those."),
            ])
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Delete those", token: user.access, extra: ["agent": "planner"])
            #expect(reply["status"] as? String == "complete", "\(reply.text)")
            #expect(reply["approvals"] == nil)
            let results = try await app.messages(conversation, token: user.access).flatMap(\.toolResults)
            #expect(results.count == 2 && results.allSatisfy { $0["is_error"] as? Bool == true }, "\(results)")
            #expect(try await Self.approvals(app, conversation, token: user.access).isEmpty)
            #expect(try await app.request(.get, "/api/v1/tasks/\(theirs)", token: other.access).status == 200)
        }
    }

    @Test("An approval expires; a new message closes what waits; a restarted server resumes a paused turn; streams announce it")
    func expiryRestartAndStream() async throws {
        try await Self.withApp { app, fake in
            let user = try await app.signup()
            let taskID = try #require(try await app.create("/tasks", ["title": "Chore"], token: user.access)["id"] as? String)
            let delete = FakeReply.toolCalls([FakeCall("tasks_delete", #"{"id": "\#(taskID)"}"#)])
            fake.enqueue([delete, delete, .text("Understood, I will not delete it."), delete, .text("Deleted after the restart.")])
            let conversation = try await app.conversation(user.access)

            let first = try await app.send(conversation, "Delete it", token: user.access, extra: ["agent": "planner"])
            let firstID = try #require((first["approvals"] as? [[String: Any]])?.first?["id"] as? String, "\(first.text)")
            app.clock.advance(seconds: 601)
            let late = try await Self.decide(app, conversation, firstID, token: user.access, ["decision": "approve"])
            #expect(late.status == 409 && late["code"] as? String == "approval_expired", "\(late.text)")
            #expect(try await Self.approvals(app, conversation, token: user.access).map { $0["status"] as? String } == ["expired"])

            let streamed = try await app.send(conversation, "Delete it now", token: user.access, extra: ["agent": "planner", "stream": true])
            #expect(streamed.text.contains("event: tool.approval_required"), "\(streamed.text)")
            #expect(streamed.text.contains(#""status":"awaiting_approval""#))
            let moved = try await app.send(conversation, "Actually, keep it", token: user.access, extra: ["agent": "planner"])
            #expect((moved["message"] as? [String: Any])?.text == "Understood, I will not delete it.", "\(moved.text)")
            #expect(fake.requests[2].body.jsonString.contains("sent a new message instead"), "the model learns the call was not run")
            #expect(try await Self.approvals(app, conversation, token: user.access).map { $0["status"] as? String } == ["expired", "superseded"])

            let paused = try await app.send(conversation, "Delete it after all", token: user.access, extra: ["agent": "planner"])
            let pausedID = try #require((paused["approvals"] as? [[String: Any]])?.first?["id"] as? String, "\(paused.text)")
            try await app.restarted { second in
                let resumed = try await Self.decide(second, conversation, pausedID, token: user.access, ["decision": "approve"])
                #expect((resumed["message"] as? [String: Any])?.text == "Deleted after the restart.", "\(resumed.text)")
                #expect(try await second.request(.get, "/api/v1/tasks/\(taskID)", token: user.access).status == 404)
            }
        }
    }
}
