import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore
import Synchronization

/// OpenAI's `POST /v1/embeddings` and Gemini's `batchEmbedContents` on 127.0.0.1, with vectors that know a few concepts: words of one concept (legs,
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
    private let calls = Mutex(0)
    /// Answer this status instead, for the next `failures` requests.
    private let failing = Mutex<(status: Int, count: Int)>((0, 0))

    static func start() async throws -> FakeEmbeddings {
        let fake = FakeEmbeddings()
        let router = Router()
        router.post("/v1/embeddings") { request, _ -> Response in
            try await fake.answer(request, authorized: request.headers[.authorization] == "Bearer \(fake.apiKey)") { json in
                let inputs = json["input"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let data = inputs.enumerated().map { index, text -> JSONValue in
                    ["object": "embedding", "index": .int(Int64(index)), "embedding": .array(Self.vector(text).map { .double(Double($0)) })]
                }
                let answer: JSONValue = ["object": "list", "data": .array(data), "model": json["model"] ?? .null,
                                         "usage": ["prompt_tokens": .int(Int64(inputs.count * 5)), "total_tokens": .int(Int64(inputs.count * 5))]]
                return (inputs.count, answer)
            }
        }
        // Gemini's `POST /v1beta/models/{model}:batchEmbedContents`, at most 100 requests a call, as Gemini allows.
        router.post("/v1beta/models/:call") { request, context -> Response in
            guard context.parameters.get("call")?.hasSuffix(":batchEmbedContents") == true else { return Response(status: .notFound) }
            return try await fake.answer(request, authorized: request.headers[HTTPField.Name("x-goog-api-key")!] == fake.apiKey) { json in
                let texts = (json["requests"]?.arrayValue ?? []).compactMap { $0["content"]?["parts"]?[0]?["text"]?.stringValue }
                guard texts.count <= 100 else { return (0, nil) }
                return (texts.count, ["embeddings": .array(texts.map { ["values": .array(Self.vector($0).map { .double(Double($0)) })] })])
            }
        }
        fake.slot.hold(try await FakeServer.start(router))
        return fake
    }

    /// Answers a request in the provider's format: the failure set by `fail`, 401 without the key, 400 when `body`
    /// gives no answer; otherwise its answer, counting the texts it embedded.
    private func answer(_ request: Request, authorized: Bool, _ body: (JSONValue) -> (texts: Int, answer: JSONValue?)) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 1 << 24)
        let json = JSONValue.parse(Data(buffer: bytes)) ?? .null
        calls.withLock { $0 += 1 }
        let failure = failing.withLock { state -> Int? in
            guard state.count > 0 else { return nil }
            state.count -= 1
            return state.status
        }
        func error(_ status: Int, _ message: String) -> Response {
            Response(status: .init(code: status), headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"error": {"code": \#(status), "message": "\#(message)", "type": "server_error"}}"#)))
        }
        if let failure { return error(failure, "fake failure") }
        guard authorized else { return error(401, "bad key") }
        let (texts, answer) = body(json)
        guard let answer else { return error(400, "too many texts") }
        embedded.withLock { $0 += texts }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.jsonString)))
    }

    var baseURL: String { slot.baseURL + "/v1" }
    var texts: Int { embedded.withLock { $0 } }
    /// Requests answered, failures included.
    var requests: Int { calls.withLock { $0 } }

    func fail(_ status: Int, times: Int) {
        failing.withLock { $0 = (status, times) }
    }

    func stop() async {
        await slot.stop()
    }

    func config(name: String = "fake", provider: EmbeddingConfig.Provider = .openai) -> EmbeddingConfig {
        var config = EmbeddingConfig(name: name, provider: provider, model: "fake-embedding", dimensions: Self.dimensions)
        config.baseURL = provider == .gemini ? slot.baseURL : baseURL
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
