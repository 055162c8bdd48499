import App
import Blueprints
import Foundation
import LLM
import Testing

/// Chat at an app's own paths and field names.
@Suite("Blueprint chat routes")
struct ChatRouteTests {
    static let yaml = CollectionToolTests.yaml + """

        chat_routes:
          - {method: POST, path: /chat, agent: planner, request: {message: content, conversationId: conversation, extra: context, live: stream},
             response: {reply: message.text, conversation_id: conversation_id, state: status}}
          - {path: /ask, agent: planner, request: {q: content}}
        """

    @Test("A chat route answers in the app's fields, keeps one conversation per user and route, and streams on request",
          arguments: FakeProvider.Kind.allCases)
    func jsonAndStream(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [.text("First answer."), .text("Second answer."), .text("Streamed answer."),
                                                       .text("Plain result.")])
        let directory = try TestBlueprint.directory(Self.yaml, files: CollectionToolTests.files)
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let other = try await app.signup()
            let first = try await app.request(.post, "/api/v1/chat", json: ["message": "Hello", "extra": ["screen": "today"], "ignored": 1],
                                              token: user.access)
            #expect(first.status == 200, "\(first.text)")
            #expect(first.json.keys.sorted() == ["conversation_id", "reply", "state"])
            #expect(first["reply"] as? String == "First answer." && first["state"] as? String == "complete")
            let conversation = try #require(first["conversation_id"] as? String)
            #expect(fake.requests[0].body.jsonString.contains("screen"), "the context reaches the model with the message")
            #expect(fake.requests[0].body.jsonString.contains("You plan the user's tasks"), "the route's agent answers")

            let second = try await app.request(.post, "/api/v1/chat", json: ["message": "Again"], token: user.access)
            #expect(second["conversation_id"] as? String == conversation, "one conversation per user and route")
            #expect(try await app.messages(conversation, token: user.access).count == 4)
            #expect(try await app.request(.post, "/api/v1/chat", json: ["message": "Hi", "conversationId": conversation],
                                          token: other.access).status == 404, "another user's conversation is not found")

            let streamed = try await app.request(.post, "/api/v1/chat", json: ["message": "Stream it", "live": true], token: user.access)
            #expect(streamed.headers[.contentType] == "text/event-stream", "\(streamed.text)")
            #expect(streamed.text.contains("event: message.delta") && streamed.text.contains("event: done"))

            let plain = try await app.request(.post, "/api/v1/ask", json: ["q": "Plain"], token: user.access)
            #expect(plain["status"] as? String == "complete" && (plain["message"] as? [String: Any])?.text == "Plain result.",
                    "without a response mapping the platform's turn result: \(plain.text)")
            #expect(plain["conversation_id"] as? String != conversation, "each route has its own conversation")

            let invalid = try await app.request(.post, "/api/v1/chat", json: ["message": 5, "conversationId": "nope"], token: user.access)
            #expect(invalid.status == 400)
            #expect(invalid.fieldErrors["message"] == "invalid_type" && invalid.fieldErrors["conversationId"] == "invalid_type", "\(invalid.text)")
            #expect(try await app.request(.post, "/api/v1/chat", json: ["message": "   "], token: user.access).fieldErrors["message"] == "required",
                    "the turn's own checks name the app's field")
            #expect(try await app.request(.post, "/api/v1/chat", json: ["message": "Hi"]).status == 401)
            #expect(try await app.request(.get, "/api/v1/chat", token: user.access).status == 405)

            let spec = try await app.request(.get, "/openapi.json")
            let operation = ((spec["paths"] as? [String: Any])?["/api/v1/chat"] as? [String: Any])?["post"] as? [String: Any]
            #expect(operation?["operationId"] as? String == "chatTestappChat")
        }
    }

    @Test("new_conversation: a request without an id starts a conversation titled by its message; a refused one leaves none")
    func newConversations() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("One."), .text("Two."), .text("Three.")])
        let yaml = CollectionToolTests.yaml + """

            chat_routes:
              - {path: /ask, agent: planner, new_conversation: true, request: {q: content, c: conversation},
                 response: {a: message.text, id: conversation_id}}
            """
        let directory = try TestBlueprint.directory(yaml, files: CollectionToolTests.files)
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let long = "How did the " + String(repeating: "quarterly ", count: 12) + "numbers do?\nDetails follow."
            let first = try await app.request(.post, "/api/v1/ask", json: ["q": long], token: user.access)
            let second = try await app.request(.post, "/api/v1/ask", json: ["q": "Another"], token: user.access)
            let third = try await app.request(.post, "/api/v1/ask", json: ["q": "Continue", "c": first["id"] as? String ?? ""], token: user.access)
            #expect(first["a"] as? String == "One." && second["a"] as? String == "Two." && third["a"] as? String == "Three.", "\(third.text)")
            #expect(first["id"] as? String != second["id"] as? String && third["id"] as? String == first["id"] as? String)
            let refused = try await app.request(.post, "/api/v1/ask", json: ["q": "   "], token: user.access)
            #expect(refused.status == 400 && refused.fieldErrors["q"] == "required", "\(refused.text)")
            let listed = try await app.request(.get, "/api/v1/conversations", token: user.access)
            let titles = (listed["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
            #expect(titles.count == 2 && titles.contains("Another"), "no conversation left by the refused request: \(titles)")
            let title = titles.first { $0 != "Another" } ?? ""
            #expect(title.hasPrefix("How did the quarterly") && title.hasSuffix("…") && title.count <= 80, "the first line, cut at a word: \(title)")
        }
        let stateless = CollectionToolTests.yaml + "\nchat_routes: [{path: /ask, agent: planner, stateless: true, new_conversation: true, request: {q: content}}]\n"
        TestBlueprint.expectProblems(stateless, directory: directory, ["chat_routes.0.new_conversation: a stateless route stores no conversation"])
    }

    @Test("A WebSocket chat route reads frames in the app's fields and sends the events, with a response frame before done")
    func webSocket() async throws {
        let yaml = CollectionToolTests.yaml + """

            chat_routes:
              - {method: WEBSOCKET, path: /talk, agent: planner, request: {message: content}, response: {reply: message.text}}
            """
        let fake = try await FakeProvider.start(.openai, [.text("Socket answer.")])
        let directory = try TestBlueprint.directory(yaml, files: CollectionToolTests.files)
        try await TestApp.withFakes([fake], testing: .live, customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let url = "ws://127.0.0.1:\(app.client.port!)/api/v1/talk"
            let frames = try await StreamingTests.exchange(url: url, headers: [:], logger: TestDatabase.logger, frames: [
                #"{"type": "auth", "access_token": "\#(user.access)"}"#,
                #"{"message": 42}"#,
                #"{"message": "Hello over the socket"}"#,
            ])
            #expect(frames.first?["event"] == "error" && frames.first?["data"]?["errors"]?[0]?["field"] == "message", "\(frames)")
            let events = frames.compactMap { $0["event"]?.stringValue }
            #expect(Array(events.suffix(2)) == ["response", "done"], "\(events)")
            #expect(events.contains("message.delta"))
            #expect(frames.first { $0["event"] == "response" }?["data"] == ["reply": "Socket answer."])
            #expect(try await app.request(.get, "/api/v1/talk", token: user.access).status == 426)
            #expect(try await app.request(.post, "/api/v1/talk", token: user.access).status == 405)
        }
    }

    @Test("A WebSocket chat route at the platform socket's path replaces it, in the app's fields and frames")
    func replacesPlatformSocket() async throws {
        let yaml = CollectionToolTests.yaml + """

            chat_routes:
              - {method: WEBSOCKET, path: /chat/stream, agent: planner, stateless: true, request: {message: content},
                 frames: {delta: {type: token, content: delta}, final: {done: true, response: message.text}}}
            """
        let fake = try await FakeProvider.start(.gemini, [.text("Streamed in the app's frames.")])
        let directory = try TestBlueprint.directory(yaml, files: CollectionToolTests.files)
        try Switchboard.checkContract(try BlueprintLoader.parse(yaml: yaml, directory: directory))
        try await TestApp.withFakes([fake], testing: .live, customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let url = "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream"
            let frames = try await ClientToolTests.converse(url: url, token: user.access, request: #"{"message": "Hello"}"#) { _ in nil }
            #expect(frames.last == ["done": true, "response": "Streamed in the app's frames."], "\(frames)")
            let platformFrame = try await ClientToolTests.converse(url: url, token: user.access,
                                                                   request: #"{"conversation_id": "\#(UUID())", "content": "Hi"}"#) { _ in nil }
            #expect(platformFrame.first?["data"]?["errors"]?[0]?["field"] == "message", "the app's fields, not the platform's: \(platformFrame)")
            #expect(try await app.request(.get, "/api/v1/chat/stream", token: user.access).status == 426)
        }
    }

    @Test("blueprint check: chat routes need a path, a content field and known slots and sources; an unknown agent stops start-up")
    func check() async throws {
        let yaml = CollectionToolTests.yaml + """

            chat_routes:
              - {method: GET, path: /tasks, agent: planner, request: {q: nothing}, response: {a: message.body}}
              - {path: "/x/{id}", agent: planner, request: {a: content, b: content}}
            """
        let directory = try TestBlueprint.directory(yaml, files: CollectionToolTests.files)
        TestBlueprint.expectProblems(yaml, directory: directory, ["chat_routes.0.method: must be POST, PUT or WEBSOCKET", "chat_routes.0.request.q: must be one of content",
                             "chat_routes.0.request: must name the field that holds the message", "chat_routes.0.response.a: must be one of",
                             "chat_routes.1.path: must be a path", "chat_routes.1.request.b: content is already another field's"])
        let taken = CollectionToolTests.yaml + "\nchat_routes: [{path: /tasks, agent: planner, request: {q: content}}]\n"
        #expect(throws: (any Error).self) { try BlueprintLoader.parse(yaml: taken, directory: directory) }
        for taken in ["{path: /chat/stream, agent: planner, request: {q: content}}",
                      "{path: /conversations, agent: planner, request: {q: content}}"] {
            let yaml = CollectionToolTests.yaml + "\nchat_routes: [\(taken)]\n"
            #expect(throws: StartupError.self, "a route of the platform") {
                try Switchboard.checkContract(try BlueprintLoader.parse(yaml: yaml, directory: directory))
            }
        }
        let ghost = CollectionToolTests.yaml + "\nchat_routes: [{path: /talk, agent: ghost, request: {q: content}}]\n"
        let ghostDirectory = try TestBlueprint.directory(ghost, files: CollectionToolTests.files)
        await #expect(throws: StartupError.self) {
            try await TestApp.run(customize: { $0.blueprintDirectory = ghostDirectory }) { _ in }
        }
    }
}
