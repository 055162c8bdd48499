import Foundation
@testable import LLM
import NIOHTTP1
import Testing

@Suite("Model router")
struct RouterTests {
    @Test("Only connection errors, 408, 409, 429 and 5xx are retryable")
    func retryable() {
        for status in [408, 409, 429, 500, 502, 503, 529] {
            #expect(ProviderError(ProviderError.kind(status: status), status: status, message: "").isRetryable, "\(status)")
        }
        for status in [400, 401, 403, 404, 422] {
            #expect(!ProviderError(ProviderError.kind(status: status), status: status, message: "").isRetryable, "\(status)")
        }
        #expect(!ProviderError(.contextLength, message: "").isRetryable)
        #expect(ProviderError(.connection, message: "").isRetryable)
        #expect(ProviderError.mentionsContextLength("prompt is too long: 250000 tokens > 200000 maximum"))
        #expect(ProviderError.mentionsContextLength("The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."))
    }

    @Test("Context-length errors are not retried on the same model but go to the fallback", arguments: FakeProvider.Kind.allCases)
    func contextLength(kind: FakeProvider.Kind) async throws {
        let message = switch kind {
        case .openai: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."
        case .anthropic: "prompt is too long: 250000 tokens > 200000 maximum"
        case .gemini: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
        }
        let small = try await FakeProvider.start(kind, [.status(400, message: message)])
        let large = try await FakeProvider.start(kind, [.text("Plenty of room.")])
        let answer = try await ModelRouter.with([small.model("small", fallbacks: ["large"]), large.model("large")], defaultModel: "small") { router in
            try await router.complete(model: "small", request: ChatRequest(messages: [.user("long")]))
        }
        #expect(answer.model == "large")
        #expect(small.requests.count == 1)
        await small.stop()
        await large.stop()
    }

    @Test("Gemini's RetryInfo and OpenAI's retry-after-ms are read as waits")
    func retryHints() {
        let info: JSONValue = ["details": [["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"]]]
        #expect(GeminiProvider.retryDelay(info) == .milliseconds(1500))
        var headers = HTTPHeaders()
        headers.add(name: "retry-after-ms", value: "250")
        #expect(ProviderHTTP.retryAfter(headers) == .milliseconds(250))
    }
}

