import Foundation
import Hummingbird
import LLM
import NIOCore
import Synchronization

/// OpenAI's `POST /v1/embeddings` on 127.0.0.1, with vectors that know a few concepts: words of one concept (legs,
/// food, knees) point along one axis, so related texts are near and unrelated ones are not; other words spread
/// over the remaining axes by hash. Records how many texts it embedded.
final class FakeEmbeddings: Sendable {
    static let dimensions = 32
    static let concepts: [[String]] = [
        ["leg", "legs", "squat", "squats", "lunge", "lunges", "deadlift"],
        ["pasta", "dinner", "food", "lunch", "pizza", "eat"],
        ["knee", "knees", "injury", "pain", "hurt"],
    ]
    let apiKey = "sk-embed-\(UUID().uuidString.lowercased())"
    private let slot = FakeServerSlot()
    private let embedded = Mutex(0)
    /// Answer this status instead, for the next `failures` requests.
    private let failing = Mutex<(status: Int, count: Int)>((0, 0))

    static func start() async throws -> FakeEmbeddings {
        let fake = FakeEmbeddings()
        let router = Router()
        router.post("/v1/embeddings") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 24)
            let json = JSONValue.parse(Data(buffer: body)) ?? .null
            let failure = fake.failing.withLock { state -> Int? in
                guard state.count > 0 else { return nil }
                state.count -= 1
                return state.status
            }
            if let failure {
                return Response(status: .init(code: failure), headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"error": {"message": "fake failure", "type": "server_error"}}"#)))
            }
            guard request.headers[.authorization] == "Bearer \(fake.apiKey)" else {
                return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: #"{"error": {"message": "bad key"}}"#)))
            }
            let inputs = json["input"]?.arrayValue?.compactMap(\.stringValue) ?? []
            fake.embedded.withLock { $0 += inputs.count }
            let data = inputs.enumerated().map { index, text -> JSONValue in
                ["object": "embedding", "index": .int(Int64(index)), "embedding": .array(Self.vector(text).map { .double(Double($0)) })]
            }
            let answer: JSONValue = ["object": "list", "data": .array(data), "model": json["model"] ?? .null,
                                     "usage": ["prompt_tokens": .int(Int64(inputs.count * 5)), "total_tokens": .int(Int64(inputs.count * 5))]]
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.jsonString)))
        }
        fake.slot.hold(try await FakeServer.start(router))
        return fake
    }

    var baseURL: String { slot.baseURL + "/v1" }
    var texts: Int { embedded.withLock { $0 } }

    func fail(_ status: Int, times: Int) {
        failing.withLock { $0 = (status, times) }
    }

    func stop() async {
        await slot.stop()
    }

    func config(name: String = "fake") -> EmbeddingConfig {
        var config = EmbeddingConfig(name: name, provider: .openai, model: "fake-embedding", dimensions: Self.dimensions)
        config.baseURL = baseURL
        config.apiKey = apiKey
        return config
    }

    static func vector(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) {
            if let concept = concepts.firstIndex(where: { $0.contains(String(word)) }) {
                vector[concept] += 3
            } else {
                let hash = word.unicodeScalars.reduce(UInt32(7)) { ($0 &* 31) &+ $1.value }
                vector[concepts.count + Int(hash % UInt32(dimensions - concepts.count))] += 1
            }
        }
        return vector
    }
}
