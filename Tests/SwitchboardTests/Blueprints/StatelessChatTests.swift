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

    @Test("Stateless turns are bounded per user like stored ones: beyond the limit, 429 too_many_turns")
    func bounded() async throws {
        let fake = try await FakeProvider.start(.openai, [.slow("One slow answer.", delay: .milliseconds(150)), .text("Next.")])
        let directory = try TestBlueprint.directory(Self.yaml, files: CollectionToolTests.files)
        try await TestApp.withFakes([fake], customize: { settings in
            settings.blueprintDirectory = directory
            settings.chat.maxConcurrentTurnsPerUser = 1
        }) { app in
            let user = try await app.signup()
            async let slow = app.request(.post, "/api/v1/assist", json: ["message": "First"], token: user.access)
            var refused: Reply?
            for _ in 0..<100 where refused == nil {
                try await Task.sleep(for: .milliseconds(10))
                if fake.requests.count == 1 { refused = try await app.request(.post, "/api/v1/assist", json: ["message": "Second"], token: user.access) }
            }
            #expect(refused?.status == 429 && refused?["code"] as? String == "too_many_turns", "\(refused?.text ?? "no second request")")
            #expect(try await slow["response"] as? String == "One slow answer.")
            #expect(try await app.request(.post, "/api/v1/assist", json: ["message": "Third"], token: user.access)["response"] as? String == "Next.",
                    "the turn's end frees its place")
        }
    }
}
