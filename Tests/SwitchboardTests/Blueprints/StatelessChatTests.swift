import App
import Blueprints
import Foundation
import LLM
import Testing

/// `stateless: true` chat routes: the app sends what the model needs with each request and nothing of it is stored.
@Suite("Stateless chat routes")
struct StatelessChatTests {
    static let yaml = CollectionToolTests.yaml + """

        chat_routes:
          - {path: /assist, agent: planner, stateless: true, request: {message: content, context: context, live: stream},
             response: {response: message.text, state: status}}
        """

    @Test("A stateless turn answers with tools, records its usage, and stores nothing of the message, context or answer",
          arguments: FakeProvider.Kind.allCases)
    func storesNothing(kind: FakeProvider.Kind) async throws {
        let marker = UUID().uuidString.lowercased()
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("current_time", "{}")]),
            .text("Answer-\(marker): plan the morning."),
            .toolCalls([FakeCall("tasks_delete", #"{"id": "00000000-0000-0000-0000-000000000001"}"#)]),
            .text("I could not delete it."),
        ])
        let directory = try TestBlueprint.directory(Self.yaml, files: CollectionToolTests.files)
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let reply = try await app.request(.post, "/api/v1/assist", json: [
                "message": "Message-\(marker): plan my day", "context": ["recent_tasks": [["title": "Context-\(marker)"]]],
            ], token: user.access)
            #expect(reply.status == 200 && reply.json.keys.sorted() == ["response", "state"], "\(reply.text)")
            #expect(reply["response"] as? String == "Answer-\(marker): plan the morning." && reply["state"] as? String == "complete")
            let seen = fake.requests[0].body.jsonString
            #expect(seen.contains("Message-\(marker)") && seen.contains("Context-\(marker)"), "the model reads the message and its context")
            #expect(fake.requests[1].body.jsonString.contains("Message-\(marker)"), "and the turn's own steps, held in memory")

            let denied = try await app.request(.post, "/api/v1/assist", json: ["message": "Delete my first task"], token: user.access)
            #expect(denied["response"] as? String == "I could not delete it.", "\(denied.text)")
            #expect(fake.requests[3].body.jsonString.contains("approval_unavailable"), "a call that needs approval is refused, not parked")

            let streamed = try await app.request(.post, "/api/v1/assist", json: ["message": "Stream-\(marker)", "live": true], token: user.access)
            #expect(streamed.text.contains("event: done"), "\(streamed.text)")

            #expect(try await app.request(.get, "/api/v1/conversations", token: user.access)["total"] as? Int == 0, "no conversation")
            #expect(try await app.databaseHolds(user.email), "the scan reads every table (the account is there)")
            for text in ["Message-\(marker)", "Context-\(marker)", "Answer-\(marker)", "Stream-\(marker)"] {
                #expect(try await !app.databaseHolds(text), "\(text) is in the database")
                #expect(!app.logs.all.contains { $0.contains(text) }, "\(text) is in the logs")
            }
            let usage = try await app.request(.get, "/api/v1/account/usage", token: user.access)
            #expect(usage.status == 200 && usage.text.contains("input_tokens"), "usage is recorded (counts only): \(usage.text)")
        }
    }

    @Test("A stateless route cannot map a conversation or approvals")
    func checked() throws {
        let directory = try TestBlueprint.directory(CollectionToolTests.yaml, files: CollectionToolTests.files)
        TestBlueprint.expectProblems(CollectionToolTests.yaml + """

            chat_routes:
              - {path: /assist, agent: planner, stateless: true, request: {message: content, thread: conversation},
                 response: {id: conversation_id, waiting: approvals}}
              - {path: /other, agent: planner, stateless: maybe, request: {message: content}}
            """, directory: directory, [
                "request.thread: a stateless route stores no conversation",
                "response.id: a stateless route stores no conversation: conversation_id cannot be mapped",
                "response.waiting: a stateless route stores no conversation: approvals cannot be mapped",
                "chat_routes.1.stateless: must be true or false",
            ])
    }

    static let deskYAML = """
        blueprint: 1
        app: {name: deskapp}
        client_tools:
          recent_tasks: {description: The user's recent tasks as the app sent them, context: recent_tasks}
          task_create:
            description: Create a task on the user's device
            action: {type: create_record, table: tasks}
            parameters:
              type: object
              additionalProperties: false
              required: [title]
              properties: {title: {type: string, minLength: 1}, priority: {type: string, enum: [high, medium, low]}}
        agents:
          task: {description: Tasks, system: prompts/task.md, tools: [recent_tasks, task_create]}
        chat_routes:
          - {path: /chat, agent: task, stateless: true, request: {message: content, context: context},
             response: {response: message.text, actions: actions}}
        """

    @Test("Client tools read the request's context and queue actions for the app; nothing reaches the database",
          arguments: FakeProvider.Kind.allCases)
    func clientTools(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("recent_tasks", "{}")]),
            .toolCalls([FakeCall("task_create", #"{"title": ""}"#)]),
            .toolCalls([FakeCall("task_create", #"{"title": "Email Bob", "priority": "high"}"#, id: "call_a"),
                        FakeCall("task_create", #"{"title": "Book the dentist"}"#, id: "call_b")]),
            .text("Queued two tasks."),
        ])
        let directory = try TestBlueprint.directory(Self.deskYAML, files: ["prompts/task.md": "You manage the user's tasks."])
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let reply = try await app.request(.post, "/api/v1/chat", json: [
                "message": "Add the follow-ups", "context": ["recent_tasks": [["title": "Call the plumber", "status": "todo"]]],
            ], token: user.access)
            #expect(reply.status == 200 && reply["response"] as? String == "Queued two tasks.", "\(reply.text)")
            let actions = reply["actions"] as? [[String: Any]] ?? []
            #expect(actions.count == 2, "the invalid call queued nothing: \(reply.text)")
            #expect(actions.first?["type"] as? String == "create_record" && actions.first?["table"] as? String == "tasks")
            #expect((actions.first?["data"] as? [String: Any])?["title"] as? String == "Email Bob"
                    && (actions.first?["data"] as? [String: Any])?["priority"] as? String == "high")
            #expect((actions.last?["data"] as? [String: Any])?["title"] as? String == "Book the dentist")
            #expect(fake.requests[1].body.jsonString.contains("Call the plumber"), "the context tool answers from the request")
            #expect(fake.requests[2].body.jsonString.contains("title"), "the schema's refusal reaches the model")
            for text in ["Email Bob", "Call the plumber"] { #expect(try await !app.databaseHolds(text), "\(text) is in the database") }

            let spec = try await app.request(.get, "/openapi.json")
            let response = ((spec["components"] as? [String: Any])?["schemas"] as? [String: Any])?["DeskappChatChatResponse"] as? [String: Any]
            #expect(((response?["properties"] as? [String: Any])?["actions"] as? [String: Any])?["type"] as? String == "array",
                    "the contract describes actions: \(response ?? [:])")
        }
    }

    @Test("Client tools are checked: one source each, an object schema, a name of their own")
    func clientToolsChecked() throws {
        let directory = try TestBlueprint.directory(CollectionToolTests.yaml, files: CollectionToolTests.files)
        TestBlueprint.expectProblems(CollectionToolTests.yaml + """

            client_tools:
              both: {description: Both, context: notes, action: {type: create_record}}
              neither: {description: Neither}
              tasks_create: {description: Taken, action: {type: create_record}}
              listy: {description: Bad schema, context: notes, parameters: {type: array}}
              quiet: {context: notes}
              BadName: {description: Bad, context: notes}
            """, directory: directory, [
                "client_tools.both: must have exactly one of context",
                "client_tools.neither: must have exactly one of context",
                "client_tools.tasks_create: tasks_create is already a tool",
                "client_tools.listy.parameters: must be a JSON Schema of type object",
                "client_tools.quiet.description: is required",
                "client_tools.BadName: must be a tool name",
            ])
    }
}
