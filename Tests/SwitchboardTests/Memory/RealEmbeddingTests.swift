import App
import Foundation
import LLM
import Testing

let realEmbeddingsURL = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_EMBEDDINGS_URL"]

/// Semantic search with a real embedding model: all-MiniLM-L6-v2 on the CPU, served over OpenAI's embeddings format
/// by `Tests/embedding-server/serve.py`, which `scripts/test` starts and names in SWITCHBOARD_TEST_EMBEDDINGS_URL.
@Suite("Memory with a real embedding model", .enabled(if: realEmbeddingsURL != nil))
struct RealEmbeddingTests {
    static let baseURL = realEmbeddingsURL

    @Test("Related memories rank first: leg day finds squats and lunges, not pasta; unrelated ones fall under min_score")
    func meaning() async throws {
        var config = EmbeddingConfig(name: "minilm", provider: .openai, model: "all-MiniLM-L6-v2", dimensions: 384)
        config.baseURL = try #require(Self.baseURL)
        try await TestApp.run(customize: { settings in
            settings.embeddings = [config]
            settings.memoryEmbedding = "minilm"
        }) { app in
            let user = try await app.signup()
            let texts = ["Squats and lunges for strong legs", "Pasta with tomato sauce for dinner", "Dentist appointment on Tuesday morning",
                         "Finished reading a novel about sailing", "Pay the electricity bill before the 15th"]
            for text in texts {
                let saved = try await MemoryTests.save(app, text, token: user.access)
                #expect(saved.status == 201 && saved["dimensions"] as? Int == 384, "\(saved.text)")
            }
            for (query, expected) in [("leg day", texts[0]), ("what should I cook tonight", texts[1]), ("money owed for utilities", texts[4]),
                                      ("my teeth hurt", texts[2])] {
                let found = try await MemoryTests.search(app, token: user.access, ["query": query, "limit": 5])
                #expect((found.first?["memory"] as? [String: Any])?["text"] as? String == expected, "\(query): \(found)")
                let scores = found.compactMap { $0["score"] as? Double }
                #expect(scores.count == 5 && scores[0] > scores[1] + 0.1, "\(query): the match stands out: \(scores)")
            }
            let close = try await MemoryTests.search(app, token: user.access, ["query": "leg day", "min_score": 0.3])
            #expect(close.count == 1, "only the related memory scores 0.3 or more: \(close)")
            let again = try await MemoryTests.save(app, "squats and lunges for strong legs", token: user.access)
            #expect(again["duplicate"] as? Bool == true, "the model is uncased: the same words are the same memory: \(again.text)")
        }
    }
}
