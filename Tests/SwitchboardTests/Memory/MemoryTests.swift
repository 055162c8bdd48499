import App
import Core
import Foundation
import LLM
import Testing

/// Per-user semantic memory over the REST API, embedded by a real HTTP server speaking OpenAI's embeddings format.
@Suite("Memory")
struct MemoryTests {
    static func withApp(_ body: @Sendable (TestApp, FakeEmbeddings) async throws -> Void) async throws {
        let fake = try await FakeEmbeddings.start()
        try await TestApp.run(customize: { settings in
            settings.embeddings = [fake.config()]
            settings.memoryEmbedding = "fake"
            settings.retry.baseBackoff = .milliseconds(1)
        }) { app in try await body(app, fake) }
        await fake.stop()
    }

    static func save(_ app: TestApp, _ text: String, token: String, _ extra: [String: Any] = [:]) async throws -> Reply {
        try await app.request(.post, "/api/v1/memories", json: extra.merging(["text": text]) { $1 }, token: token)
    }

    static func search(_ app: TestApp, token: String, _ body: [String: Any]) async throws -> [[String: Any]] {
        let reply = try await app.request(.post, "/api/v1/memories/search", json: body, token: token)
        try #require(reply.status == 200, "\(reply.text)")
        return reply["items"] as? [[String: Any]] ?? []
    }

    @Test("Save, find by meaning, list, change, forget; a near duplicate is not stored twice; another user finds nothing")
    func lifecycle() async throws {
        try await Self.withApp { app, fake in
            let user = try await app.signup()
            let other = try await app.signup()
            let squats = try await Self.save(app, "Squats and lunges on Mondays", token: user.access, ["tags": ["training"]])
            #expect(squats.status == 201, "\(squats.text)")
            #expect(squats["embedding_model"] as? String == "fake:fake-embedding" && squats["dimensions"] as? Int == FakeEmbeddings.dimensions)
            _ = try await Self.save(app, "Pasta for dinner on Fridays", token: user.access, ["namespace": "food"])
            _ = try await Self.save(app, "My left knee hurts after running", token: user.access, ["tags": ["health", "training"]])
            let again = try await Self.save(app, "squats and lunges on mondays!", token: user.access, ["tags": ["training"]])
            #expect(again.status == 200 && again["duplicate"] as? Bool == true && again["id"] as? String == squats["id"] as? String,
                    "a near duplicate answers the existing memory: \(again.text)")

            let legDay = try await Self.search(app, token: user.access, ["query": "leg day", "limit": 3])
            #expect((legDay.first?["memory"] as? [String: Any])?["text"] as? String == "Squats and lunges on Mondays", "\(legDay)")
            let scores = legDay.compactMap { $0["score"] as? Double }
            #expect(scores == scores.sorted(by: >) && (scores.first ?? 0) > 0.5)
            #expect(try await Self.search(app, token: user.access, ["query": "leg day", "namespace": "food"])
                .allSatisfy { ($0["memory"] as? [String: Any])?["namespace"] as? String == "food" })
            let tagged = try await Self.search(app, token: user.access, ["query": "pain", "tags": ["health"]])
            #expect(tagged.count == 1 && (tagged.first?["memory"] as? [String: Any])?["text"] as? String == "My left knee hurts after running")
            let strict = try await Self.search(app, token: user.access, ["query": "leg day", "min_score": 0.9])
            #expect(strict.allSatisfy { ($0["score"] as? Double ?? 0) >= 0.9 })
            let byVector = try await Self.search(app, token: user.access, ["vector": FakeEmbeddings.vector("pizza").map(Double.init), "limit": 1])
            #expect((byVector.first?["memory"] as? [String: Any])?["namespace"] as? String == "food", "a vector as given")
            #expect(try await Self.search(app, token: other.access, ["query": "leg day"]).isEmpty, "nothing of another user's")

            let id = try #require(squats["id"] as? String)
            #expect(try await app.request(.get, "/api/v1/memories/\(id)", token: other.access).status == 404)
            #expect(try await app.request(.patch, "/api/v1/memories/\(id)", json: ["text": "x"], token: other.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/memories/\(id)", token: other.access).status == 404)
            let before = fake.texts
            let changed = try await app.request(.patch, "/api/v1/memories/\(id)", json: ["text": "Deadlifts on Mondays"], token: user.access)
            #expect(changed["text"] as? String == "Deadlifts on Mondays" && fake.texts == before + 1, "new text is embedded again")
            #expect((try await Self.search(app, token: user.access, ["query": "deadlift", "limit": 1]).first?["memory"] as? [String: Any])?["id"] as? String == id)

            let list = try await app.request(.get, "/api/v1/memories?tags=training", token: user.access)
            #expect(list["total"] as? Int == 2, "\(list.text)")
            #expect((try await app.request(.get, "/api/v1/memories?namespace=food", token: user.access))["total"] as? Int == 1)
            let forgot = try await app.request(.delete, "/api/v1/memories?namespace=food", token: user.access)
            #expect(forgot["deleted"] as? Int == 1)
            #expect(try await app.request(.delete, "/api/v1/memories/\(id)", token: user.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/memories", token: user.access)["total"] as? Int == 1)
            #expect(try await Self.search(app, token: user.access, ["query": "deadlift"]).allSatisfy {
                ($0["memory"] as? [String: Any])?["id"] as? String != id
            }, "a deleted memory is not found")
        }
    }

    @Test("Bad input is a 400 naming the field; a failing embedding provider is retried, then a 5xx naming the model")
    func badInput() async throws {
        try await Self.withApp { app, fake in
            let user = try await app.signup()
            for (body, field) in [(["text": ""], "text"), (["text": "a", "namespace": "Bad Space"], "namespace"),
                                  (["text": "a", "tags": ["has space"]], "tags")] as [([String: Any], String)] {
                let reply = try await app.request(.post, "/api/v1/memories", json: body, token: user.access)
                #expect(reply.status == 400 && reply.fieldErrors[field] != nil, "\(body): \(reply.text)")
            }
            // A search's tags are held to the rule saved tags are: the fuzzer's 65-scalar tag was once answered 200.
            let fuzzed = "\u{F6}\u{B7}i\u{37C12}\u{AB}$" + String(repeating: "*", count: 59)
            for (body, field) in [(["query": "x", "limit": 0], "limit"), (["vector": [1, 2]], "vector"), ([:], "query"),
                                  (["query": "x", "tags": [fuzzed]], "tags"),
                                  (["query": "x", "tags": [String(repeating: "a", count: 65)]], "tags"), (["query": "x", "tags": ["has space"]], "tags"),
                                  (["query": "x", "tags": (0...20).map { "t\($0)" }], "tags")] as [([String: Any], String)] {
                let reply = try await app.request(.post, "/api/v1/memories/search", json: body, token: user.access)
                #expect(reply.status == 400 && reply.fieldErrors[field] != nil, "\(body): \(reply.text)")
            }
            fake.fail(503, times: 1)
            #expect(try await Self.save(app, "Retried once", token: user.access).status == 201, "a 503 is retried")
            fake.fail(503, times: 10)
            let failed = try await Self.save(app, "Never stored", token: user.access)
            #expect(failed.status == 503 && failed["code"] as? String == "embedding_unavailable", "\(failed.text)")
            #expect(try await app.request(.get, "/api/v1/memories", token: user.access)["total"] as? Int == 1)
        }
    }

    @Test("A namespace keeps one embedding model: another model is refused until reembedded")
    func modelMismatch() async throws {
        let fake = try await FakeEmbeddings.start()
        try await TestApp.run(customize: { settings in
            settings.embeddings = [fake.config()]
            settings.memoryEmbedding = "fake"
        }) { app in
            let user = try await app.signup()
            #expect(try await Self.save(app, "Squats", token: user.access).status == 201)
            var mock = app.settings
            mock.embeddings = [EmbeddingConfig(name: "mock", provider: .mock, model: "mock", dimensions: 64)]
            mock.memoryEmbedding = "mock"
            let other = try await Switchboard.build(settings: mock, logger: .init(label: "mock"), clock: app.clock.wallClock)
            try await other.application.test(.router) { client in
                let reply = try await client.execute(uri: "/api/v1/memories", method: .post,
                                                     headers: [.contentType: "application/json", .authorization: "Bearer \(user.access)"],
                                                     body: .init(string: #"{"text": "Lunges"}"#))
                #expect(reply.status.code == 409 && String(buffer: reply.body).contains("embedding_model_mismatch"), "\(String(buffer: reply.body))")
                let elsewhere = try await client.execute(uri: "/api/v1/memories", method: .post,
                                                         headers: [.contentType: "application/json", .authorization: "Bearer \(user.access)"],
                                                         body: .init(string: #"{"text": "Lunges", "namespace": "mock_notes"}"#))
                #expect(elsewhere.status.code == 201, "another namespace takes the new model")
            }
            await other.close()
        }
        await fake.stop()
    }

    @Test("Two servers on one database: a memory saved through one is found through the other on its next search")
    func coherence() async throws {
        try await Self.withApp { app, _ in
            let user = try await app.signup()
            _ = try await Self.save(app, "Pasta for dinner", token: user.access)
            try await app.restarted { second in
                #expect(try await Self.search(second, token: user.access, ["query": "food"]).count == 1, "loads its index")
                let saved = try await Self.save(app, "Squats and lunges", token: user.access)
                let found = try await Self.search(second, token: user.access, ["query": "leg day", "limit": 1])
                #expect((found.first?["memory"] as? [String: Any])?["id"] as? String == saved["id"] as? String, "sees the other's write")
                #expect(try await app.request(.delete, "/api/v1/memories/\(saved["id"] as? String ?? "")", token: user.access).status == 204)
                #expect(try await Self.search(second, token: user.access, ["query": "leg day"]).allSatisfy {
                    ($0["memory"] as? [String: Any])?["id"] as? String != saved["id"] as? String
                }, "and its delete")
            }
        }
    }

    @Test("Two server processes on one PostgreSQL: each search sees the other's writes and deletes", .enabled(if: TestDatabase.engine == .postgres))
    func processes() async throws {
        let (directory, shared) = try await CLI.sharedEnvironment()
        let first = try await ServerProcess.start(directory: directory, environment: shared)
        let second = try await ServerProcess.start(directory: directory, environment: shared)
        defer { first.stop(); second.stop() }
        let signup = try await first.post("/api/v1/auth/signup", json: ["email": "memory@example.com", "password": "correct horse battery"])
        let token = try #require(signup.json["access_token"] as? String)
        func found(_ query: String) async throws -> [String] {
            let answer = try await second.post("/api/v1/memories/search", json: ["query": query, "limit": 1, "min_score": 0.3], token: token)
            return (answer.json["items"] as? [[String: Any]] ?? []).compactMap { ($0["memory"] as? [String: Any])?["id"] as? String }
        }
        _ = try await first.post("/api/v1/memories", json: ["text": "Pasta for dinner"], token: token)
        #expect(try await found("pasta dinner").count == 1, "the second process loads its index")
        let saved = try await first.post("/api/v1/memories", json: ["text": "Squats and lunges on Mondays"], token: token)
        let id = try #require(saved.json["id"] as? String)
        #expect(try await found("squats lunges mondays") == [id], "a write through the first is found through the second at once")
        #expect(try await first.request(.DELETE, "/api/v1/memories/\(id)", token: token).status == 204)
        #expect(try await found("squats lunges mondays") != [id], "and a delete is seen at once")
    }

    @Test("An agent remembers and recalls through the memory tools; forgetting waits for the user's approval")
    func agentTools() async throws {
        let embeddings = try await FakeEmbeddings.start()
        let model = try await FakeProvider.start(.openai, [
            .toolCalls([FakeCall("memory_save", #"{"text": "The user's left knee hurts after running", "namespace": "facts"}"#)]),
            .toolCalls([FakeCall("memory_search", #"{"query": "knee pain", "limit": 3}"#)]),
            .text("Noted: go easy on your knee."),
        ])
        let yaml = """
            blueprint: 1
            app: {name: coachapp}
            agents:
              coach: {description: Coaches, system: prompts/coach.md, tools: [memory_save, memory_search, memory_delete]}
            """
        let directory = try TestBlueprint.directory(yaml, files: ["prompts/coach.md": "You coach."])
        try await TestApp.withFakes([model], customize: { settings in
            settings.blueprintDirectory = directory
            settings.embeddings = [embeddings.config()]
            settings.memoryEmbedding = "fake"
        }) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "My knee hurts", token: user.access, extra: ["agent": "coach"])
            #expect(reply["status"] as? String == "complete", "\(reply.text)")
            let stored = try await app.request(.get, "/api/v1/memories?namespace=facts", token: user.access)
            let id = try #require((stored["items"] as? [[String: Any]])?.first?["id"] as? String, "\(stored.text)")
            let results = try await app.messages(conversation, token: user.access).flatMap(\.toolResults)
            #expect("\(results.last ?? [:])".contains("left knee"), "the search finds it: \(results)")

            model.enqueue([.toolCalls([FakeCall("memory_delete", #"{"id": "\#(id)"}"#)]), .text("Forgotten.")])
            let paused = try await app.send(conversation, "Forget that", token: user.access, extra: ["agent": "coach"])
            #expect(paused["status"] as? String == "awaiting_approval", "\(paused.text)")
            #expect(try await app.request(.get, "/api/v1/memories/\(id)", token: user.access).status == 200, "not forgotten before approval")
            let approval = try #require((paused["approvals"] as? [[String: Any]])?.first?["id"] as? String)
            let done = try await app.request(.post, "/api/v1/conversations/\(conversation)/approvals/\(approval)", json: ["decision": "approve"],
                                             token: user.access)
            #expect(done["status"] as? String == "complete", "\(done.text)")
            #expect(try await app.request(.get, "/api/v1/memories/\(id)", token: user.access).status == 404)
        }
        await embeddings.stop()
    }

    @Test("memory: auto recalls the closest memories into the prompt, where a template places them or in a block of their own")
    func autoRecall() async throws {
        let embeddings = try await FakeEmbeddings.start()
        let model = try await FakeProvider.start(.anthropic, [.text("Easy on the knee."), .text("Noted.")])
        let yaml = """
            blueprint: 1
            app: {name: coachapp}
            agents:
              coach: {description: Coaches, system: prompts/coach.md, tools: [current_time], memory: auto}
              plain: {description: Plain, system: prompts/plain.md, tools: [current_time], memory: auto}
            """
        let directory = try TestBlueprint.directory(yaml, files: [
            "prompts/coach.md": "You coach. You know {{memory_count}} things.{{#memories}}\nRemember: {{text}}{{/memories}}",
            "prompts/plain.md": "You answer plainly.",
        ])
        try await TestApp.withFakes([model], customize: { settings in
            settings.blueprintDirectory = directory
            settings.embeddings = [embeddings.config()]
            settings.memoryEmbedding = "fake"
        }) { app in
            let user = try await app.signup()
            for text in ["My left knee hurts after running", "Pasta for dinner on Fridays"] {
                #expect(try await Self.save(app, text, token: user.access).status == 201)
            }
            let conversation = try await app.conversation(user.access)
            _ = try await app.send(conversation, "Is my knee pain a problem?", token: user.access, extra: ["agent": "coach"])
            let system = model.requests[0].body["system"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: "\n") ?? ""
            #expect(system.contains("You know 2 things.") && system.contains("Remember: My left knee hurts after running"), "\(system)")
            #expect(!system.contains("Pasta"), "only what is close enough to the message")
            _ = try await app.send(conversation, "Any knee injury?", token: user.access, extra: ["agent": "plain"])
            let plain = model.requests[1].body["system"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
            #expect(plain.last?.hasPrefix("What you remember about the user (2 memories in all") == true, "\(plain)")
        }
        await embeddings.stop()
    }
}
