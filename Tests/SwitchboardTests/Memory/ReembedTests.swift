import Foundation
import Testing

/// `switchboard memory reembed`, as an operator runs it after changing the embedding model.
@Suite("Memory reembed", .serialized)
struct ReembedTests {
    static func environment(_ base: [String: String], fake: FakeEmbeddings) -> [String: String] {
        base.merging([
            "EMBEDDINGS": "fake", "EMBEDDINGS_FAKE_PROVIDER": "openai", "EMBEDDINGS_FAKE_MODEL": "fake-embedding",
            "EMBEDDINGS_FAKE_BASE_URL": fake.baseURL, "EMBEDDINGS_FAKE_DIMENSIONS": "\(FakeEmbeddings.dimensions)",
            "EMBEDDINGS_FAKE_API_KEY_ENV": "FAKE_EMBEDDINGS_KEY", "FAKE_EMBEDDINGS_KEY": fake.apiKey, "EMBEDDINGS_FAKE_MAX_ATTEMPTS": "1",
        ]) { $1 }
    }

    @Test("Memories move to the new model batch by batch; a stopped or failed run goes on where it stopped; then search uses the new model")
    func reembed() async throws {
        let (directory, shared) = try await CLI.sharedEnvironment()

        // Saved with the default mock model.
        let before = try await ServerProcess.start(directory: directory, environment: shared)
        let signup = try await before.post("/api/v1/auth/signup", json: ["email": "reembed@example.com", "password": "correct horse battery"])
        let token = try #require(signup.json["access_token"] as? String)
        for text in ["Squats and lunges on Mondays", "Pasta for dinner on Fridays", "My left knee hurts after running"] {
            #expect(try await before.post("/api/v1/memories", json: ["text": text], token: token).status == 201)
        }
        before.stop()

        let fake = try await FakeEmbeddings.start()
        let environment = Self.environment(shared, fake: fake)
        let first = try await CLI.run(["memory", "reembed", "--batch-size", "2", "--max-batches", "1"], in: directory, environment: environment)
        #expect(first.status == 0 && first.stdout.contains("moved 2 memories to fake:fake-embedding; 1 left"), "\(first.stdout) \(first.stderr)")

        // Until it finishes, the namespace still holding old vectors refuses new memories.
        let during = try await ServerProcess.start(directory: directory, environment: environment)
        let refused = try await during.post("/api/v1/memories", json: ["text": "Deadlifts"], token: token)
        #expect(refused.status == 409 && refused.json["code"] as? String == "embedding_model_mismatch", "\(refused.json)")
        during.stop()

        fake.fail(400, times: 1)
        let failed = try await CLI.run(["memory", "reembed"], in: directory, environment: environment)
        #expect(failed.status == 1 && failed.stderr.contains("the embedding model failed") && !failed.stderr.contains(fake.apiKey),
                "\(failed.stdout) \(failed.stderr)")

        let embedded = fake.texts
        let last = try await CLI.run(["memory", "reembed"], in: directory, environment: environment)
        #expect(last.status == 0 && last.stdout.contains("every memory is embedded with fake:fake-embedding"), "\(last.stdout) \(last.stderr)")
        #expect(fake.texts == embedded + 1, "only what was left is embedded again")
        #expect(try await CLI.run(["memory", "reembed"], in: directory, environment: environment).stdout.contains("every memory is embedded"))

        let after = try await ServerProcess.start(directory: directory, environment: environment)
        let found = try await after.post("/api/v1/memories/search", json: ["query": "leg day", "limit": 3], token: token)
        let items = found.json["items"] as? [[String: Any]] ?? []
        #expect(items.count == 3 && (items.first?["memory"] as? [String: Any])?["text"] as? String == "Squats and lunges on Mondays", "\(found.json)")
        #expect(items.allSatisfy { ($0["memory"] as? [String: Any])?["embedding_model"] as? String == "fake:fake-embedding" })
        #expect(try await after.post("/api/v1/memories", json: ["text": "Deadlifts"], token: token).status == 201, "new memories are taken again")
        after.stop()
        await fake.stop()
    }
}
