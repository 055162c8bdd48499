import App
import Core
import Foundation
import LLM
import Testing

/// The embedding providers' wire formats, against a real HTTP server speaking each.
@Suite("Embedding providers")
struct EmbeddingProviderTests {
    @Test("Gemini: batchEmbedContents in batches of at most 100, vectors in the texts' order, unit length; a 429 is retried")
    func geminiBatches() async throws {
        let fake = try await FakeEmbeddings.start()
        var config = fake.config(provider: .gemini)
        config.apiKey = fake.apiKey
        var policy = RetryPolicy()
        policy.baseBackoff = .milliseconds(1)
        let embedder = Embedder(config, policy: policy)
        let texts = (0..<150).map { "text number \($0) about squats" + String(repeating: " pasta", count: $0 % 3) }
        fake.fail(429, times: 1)
        let result = try await embedder.embed(texts)
        #expect(fake.requests == 3, "one retried call, then 100 + 50 texts")
        #expect(result.vectors.count == 150 && result.usage.inputTokens > 0)
        for (text, vector) in zip(texts, result.vectors) {
            let expected = Embedder.normalized(FakeEmbeddings.vector(text))
            #expect(zip(vector, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(text)")
        }
        await fake.stop()
    }

    @Test("Gemini through the memory API: saved and found by meaning; a wrong key is a 502 naming the model, without the key")
    func geminiMemories() async throws {
        let fake = try await FakeEmbeddings.start()
        var config = fake.config(name: "gem", provider: .gemini)
        config.apiKey = fake.apiKey
        try await TestApp.run(customize: { settings in
            settings.embeddings = [config]
            settings.memoryEmbedding = "gem"
        }) { app in
            let user = try await app.signup()
            for text in ["Squats and lunges", "Pasta for dinner"] {
                #expect(try await MemoryTests.save(app, text, token: user.access).status == 201)
            }
            let found = try await MemoryTests.search(app, token: user.access, ["query": "leg day", "limit": 1])
            #expect((found.first?["memory"] as? [String: Any])?["text"] as? String == "Squats and lunges", "\(found)")
        }
        config.apiKey = "wrong-key"
        try await TestApp.run(customize: { settings in
            settings.embeddings = [config]
            settings.memoryEmbedding = "gem"
        }) { app in
            let user = try await app.signup()
            let failed = try await MemoryTests.save(app, "Squats", token: user.access)
            #expect(failed.status == 502 && failed["code"] as? String == "embedding_error" && failed["model"] as? String == "gem", "\(failed.text)")
            #expect(!failed.text.contains("wrong-key"))
        }
        await fake.stop()
    }

    @Test("Vectors of other dimensions than configured are refused, not stored")
    func wrongDimensions() async throws {
        let fake = try await FakeEmbeddings.start()
        var config = fake.config()
        config.dimensions = 16
        try await TestApp.run(customize: { settings in
            settings.embeddings = [config]
            settings.memoryEmbedding = "fake"
        }) { app in
            let user = try await app.signup()
            let failed = try await MemoryTests.save(app, "Squats", token: user.access)
            #expect(failed.status == 502 && (failed["detail"] as? String ?? "").contains("32 dimensions"), "\(failed.text)")
            #expect(try await app.request(.get, "/api/v1/memories", token: user.access)["total"] as? Int == 0)
        }
        await fake.stop()
    }
}
