import App
import Blueprints
import Foundation
import HummingbirdWSClient
import LLM
import Logging
import Synchronization
import Testing

/// `client_tools:`: tools that read the request's context, queue actions for the app, or are run by the app itself
/// over the chat WebSocket.
@Suite("Client tools")
struct ClientToolTests {
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
          device_battery: {description: The battery level of the user's device, execute: client}
        agents:
          task: {description: Tasks, system: prompts/task.md, tools: [recent_tasks, task_create, device_battery]}
        chat_routes:
          - {path: /chat, agent: task, stateless: true, request: {message: content, context: context},
             response: {response: message.text, actions: actions}}
          - {method: WEBSOCKET, path: /chat/socket, agent: task, stateless: true, request: {message: content, context: context},
             frames: {delta: {type: token, content: delta}, final: {done: true, response: message.text, actions: actions}}}
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

    @Test("Client tools are checked (one source each, an object schema, a name of their own), and a socket's frames")
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
            chat_routes:
              - {path: /plain, agent: planner, request: {message: content}, frames: {final: {done: true}}}
              - {method: WEBSOCKET, path: /sock, agent: planner, request: {message: content}, frames: {delta: {type: token}, final: {done: true}}}
              - {method: WEBSOCKET, path: /sock2, agent: planner, request: {message: content}, frames: {delta: {content: delta}}}
            """, directory: directory, [
                "chat_routes.0.frames: only a WEBSOCKET route sends frames",
                "chat_routes.1.frames.delta: must name the field that carries the text",
                "chat_routes.2.frames: must be {delta:",
                "client_tools.both: must have exactly one of context",
                "client_tools.neither: must have exactly one of context",
                "client_tools.tasks_create: tasks_create is already a tool",
                "client_tools.listy.parameters: must be a JSON Schema of type object",
                "client_tools.quiet.description: is required",
                "client_tools.BadName: must be a tool name",
            ])
    }

    /// Connects to `url`, authenticates, sends `request`, answers every `tool.request` with `answer`, and returns the
    /// frames received up to `done`.
    static func converse(url: String, token: String, request: String,
                         answer: @escaping @Sendable (JSONValue) -> String?) async throws -> [JSONValue] {
        let received = Mutex<[JSONValue]>([])
        try await WebSocketClient.connect(url: url, configuration: .init(), logger: TestDatabase.logger) { inbound, outbound, _ in
            try await outbound.write(.text(#"{"type": "auth", "access_token": "\#(token)"}"#))
            try await outbound.write(.text(request))
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message, let json = JSONValue.parse(text) else { continue }
                received.withLock { $0.append(json) }
                if json["event"] == "tool.request", let reply = answer(json["data"] ?? .null) { try await outbound.write(.text(reply)) }
                if json["event"] == "done" || json["done"] == true || (json["event"] == "error" && json["id"] == 0) { break }
            }
            try? await outbound.close(.normalClosure, reason: nil)
        }
        return received.withLock { $0 }
    }

    @Test("Over the WebSocket the app runs its tools: a tool.request out, its tool.result to the model; without the socket, or failed, the model is told")
    func appExecuted() async throws {
        let fake = try await FakeProvider.start(.anthropic, [
            .toolCalls([FakeCall("device_battery", "{}")]), .text("Your battery is at 80%."),
            .toolCalls([FakeCall("device_battery", "{}")]), .text("I could not read it."),
            .toolCalls([FakeCall("device_battery", "{}")]), .text("The app is not connected."),
        ])
        let directory = try TestBlueprint.directory(Self.deskYAML, files: ["prompts/task.md": "You manage the user's tasks."])
        try await TestApp.withFakes([fake], testing: .live, customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let url = "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/socket"
            let frames = try await Self.converse(url: url, token: user.access, request: #"{"message": "How is my battery?"}"#) { request in
                #"{"type": "tool.result", "request_id": "\#(request["request_id"]?.stringValue ?? "")", "result": {"level": 80}}"#
            }
            let request = frames.first { $0["event"] == "tool.request" }?["data"]
            #expect(request?["name"] == "device_battery" && request?["arguments"] == [:], "\(frames)")
            #expect(frames.last == ["done": true, "response": "Your battery is at 80%.", "actions": []], "the route's final frame: \(frames)")
            let tokens = frames.filter { $0["type"] == "token" }.compactMap { $0["content"]?.stringValue }
            #expect(tokens.count > 1 && tokens.joined() == "Your battery is at 80%.", "token frames as the answer is written: \(tokens)")
            #expect(!frames.contains { $0["event"] == "message.completed" || $0["event"] == "done" }, "the platform's own events are not sent")
            let seen = fake.requests[1].body.jsonString
            #expect(seen.contains("level") && seen.contains("80"), "the app's result reaches the model: \(seen)")

            let failed = try await Self.converse(url: url, token: user.access, request: #"{"message": "Again"}"#) { request in
                #"{"type": "tool.result", "request_id": "\#(request["request_id"]?.stringValue ?? "")", "result": "sensor offline", "is_error": true}"#
            }
            #expect(failed.last?["done"] == true)
            #expect(fake.requests[3].body.jsonString.contains("sensor offline"), "the app's failure reaches the model")

            let plain = try await app.request(.post, "/api/v1/chat", json: ["message": "Battery?"], token: user.access)
            #expect(plain["response"] as? String == "The app is not connected.", "\(plain.text)")
            #expect(fake.requests[5].body.jsonString.contains("not connected by the chat WebSocket"))

            let stray = try await Self.converse(url: url, token: user.access,
                                                request: #"{"type": "tool.result", "request_id": "nope", "result": 1}"#) { _ in nil }
            #expect(stray.first?["data"]?["code"] == "unknown_tool_request", "\(stray)")
        }
    }
}
