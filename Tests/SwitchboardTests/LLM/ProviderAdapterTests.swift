import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import Core
@testable import LLM
import Logging
import NIOCore
import Synchronization
import Testing

@Suite("Provider adapters")
struct ProviderAdapterTests {
    @Test("Non-streaming calls parse each provider's whole response: text, tool calls, usage", arguments: FakeProvider.Kind.allCases)
    func nonStreaming(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [.toolCalls([FakeCall("lookup", #"{"q": "swift", "n": 3}"#)], text: "Looking."), .text("Plain answer.")])
        let request = ChatRequest(system: [SystemBlock("Be brief.")], messages: [.user("Find swift")],
                                  tools: [ToolSpec(name: "lookup", description: "Looks up", parameters: ["type": "object"])])
        let (first, second) = try await ModelRouter.with([fake.model("m")], defaultModel: "m") { router in
            (try await router.complete(model: "m", request: request), try await router.complete(model: "m", request: request))
        }
        await fake.stop()
        #expect(fake.requests.count == 2, "each call answered at its first attempt")
        #expect(first.model == "m")
        #expect(first.response.finishReason == .toolCalls)
        #expect(first.response.message.text == "Looking.")
        let call = try #require(first.response.message.toolCalls.first)
        #expect(call.name == "lookup")
        #expect(call.arguments == ["q": "swift", "n": 3])
        #expect(first.response.usage.inputTokens == FakeUsage.input)
        #expect(first.response.usage.cachedInputTokens == FakeUsage.cached)
        #expect(first.response.usage.outputTokens == FakeUsage.output)
        #expect(second.response.message.text == "Plain answer.")
        #expect(second.response.finishReason == .stop)
        switch kind {
        case .openai, .anthropic: #expect(fake.requests.allSatisfy { $0.body["stream"]?.boolValue != true })
        case .gemini: #expect(fake.requests.allSatisfy { $0.path.hasSuffix(":generateContent") })
        }
    }

    @Test("Vertex AI: a service-account assertion (RS256) is exchanged for a token, cached, and sent as the bearer")
    func vertex() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let issued = Mutex(0)
        let tokenRouter = Router()
        tokenRouter.post("/token") { request, _ -> Response in
            var request = request
            let form = String(buffer: try await request.collectBody(upTo: 1 << 16))
            let fields = Dictionary(uniqueKeysWithValues: form.split(separator: "&").map {
                let pair = $0.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), String(pair.count > 1 ? pair[1] : "").removingPercentEncoding ?? "")
            })
            // Verify the assertion as Google does: RS256 over header.claims with the account's public key.
            let parts = (fields["assertion"] ?? "").split(separator: ".").map(String.init)
            guard fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", parts.count == 3,
                  let signature = Data(base64URLEncoded: parts[2]),
                  key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature),
                                                 for: Data((parts[0] + "." + parts[1]).utf8), padding: .insecurePKCS1v1_5),
                  let claims = Data(base64URLEncoded: parts[1]).flatMap(JSONValue.parse),
                  claims["iss"] == "switchboard@project.iam.gserviceaccount.com",
                  claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
            else { return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: #"{"error": "invalid_grant"}"#))) }
            issued.withLock { $0 += 1 }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"access_token": "ya29.fake-token", "expires_in": 3600, "token_type": "Bearer"}"#)))
        }
        let tokenServer = try await FakeServer.start(tokenRouter)
        let fake = try await FakeProvider.start(.gemini, [.text("From Vertex."), .text("Again from Vertex.")])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID().uuidString).json").path
        let account: JSONValue = ["type": "service_account", "project_id": "project", "private_key_id": "kid1",
                                  "private_key": .string(key.pkcs8PEMRepresentation),
                                  "client_email": "switchboard@project.iam.gserviceaccount.com", "token_uri": .string(tokenServer.baseURL + "/token")]
        try account.jsonData.write(to: URL(fileURLWithPath: file))
        var config = ModelConfig(name: "vertex", provider: .vertex, model: "gemini-test-model")
        config.credentialsFile = file
        config.baseURL = String(fake.baseURL)
        config.vertexLocation = "europe-west4"
        try await ModelRouter.with([config], defaultModel: "vertex") { router in
            for _ in 0..<2 {
                var assembler = ResponseAssembler()
                try await router.stream(model: "vertex", request: ChatRequest(messages: [.user("Hi")])) { routed in
                    if case .event(let event) = routed { assembler.add(event) }
                }
                #expect(assembler.message.text.hasPrefix("From Vertex") || assembler.message.text.hasPrefix("Again"))
            }
        }
        await fake.stop()
        #expect(fake.requests.count == 2)
        #expect(fake.requests.first?.path == "/v1/projects/project/locations/europe-west4/publishers/google/models/gemini-test-model:streamGenerateContent?alt=sse")
        #expect(fake.requests.allSatisfy { $0.headers[.authorization] == "Bearer ya29.fake-token" })
        #expect(issued.withLock { $0 } == 1, "the token is cached")
        await tokenServer.stop()
    }

    @Test("A service-account key is validated field by field")
    func serviceAccountValidation() throws {
        #expect(throws: GoogleServiceAccount.Invalid.self) { try GoogleServiceAccount(json: ["type": "user"]) }
        do {
            _ = try GoogleServiceAccount(json: ["type": "service_account", "project_id": "p", "client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"])
            Issue.record("a key that does not parse was accepted")
        } catch let error as GoogleServiceAccount.Invalid {
            #expect(error.problems.map(\.field) == ["private_key"])
        }
    }

    @Test("Stream decoding: fragments, unknown events, CRLF separators and a missing end are handled per provider")
    func streamEdgeCases() throws {
        // OpenAI-compatible servers differ: some repeat the call's id in every chunk; usage may come with the choices.
        var openai = OpenAIProvider.StreamDecoder()
        var assembler = ResponseAssembler()
        let redactor = Redactor(secrets: [])
        for chunk in [
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"arguments":"1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        ] {
            try openai.decode(JSONValue.parse(chunk)!, redactor: redactor).forEach { assembler.add($0) }
        }
        try openai.finish().forEach { assembler.add($0) }
        #expect(assembler.message.toolCalls == [ToolCall(id: "c1", name: "f", arguments: ["a": 1])])
        #expect(assembler.response.finishReason == .toolCalls)
        #expect(assembler.usage.outputTokens == 4)
        // A stream that ends without a finish reason was cut short.
        #expect(throws: ProviderError.self) { try OpenAIProvider.StreamDecoder().finish() }

        // Anthropic: unknown event types and thinking blocks are skipped; an error event throws its kind.
        var anthropic = AnthropicProvider.StreamDecoder()
        #expect(try anthropic.decode(["type": "content_block_start", "index": 0, "content_block": ["type": "thinking", "thinking": ""]], redactor: redactor).isEmpty)
        #expect(try anthropic.decode(["type": "some_future_event"], redactor: redactor).isEmpty)
        #expect(throws: ProviderError.self) {
            try anthropic.decode(["type": "error", "error": ["type": "overloaded_error", "message": "Overloaded"]], redactor: redactor)
        }

        // Gemini: thought summaries are not answer text; the signature of the text is kept.
        var gemini = GeminiProvider.ResponseDecoder()
        let parts = try gemini.decode(["candidates": [["content": ["parts": [["text": "pondering", "thought": true],
                                                                             ["text": "Answer", "thoughtSignature": "sig"]]],
                                                       "finishReason": "STOP"]]], redactor: redactor)
        #expect(parts == [.textDelta("Answer"), .signature(index: nil, value: "sig")])
        #expect(try gemini.finish() == [.finish(.stop)])
    }

    @Test("Secrets are removed from provider messages")
    func redaction() {
        let redactor = Redactor(secrets: ["my-secret-key-123"])
        let cleaned = redactor.clean("Bad key my-secret-key-123; also sk-proj-abcdefghijklmnop and AIzaSyA1234567890abc, fine words")
        #expect(!cleaned.contains("my-secret-key-123"))
        #expect(!cleaned.contains("sk-proj-abcdefghijklmnop"))
        #expect(!cleaned.contains("AIzaSyA1234567890abc"))
        #expect(cleaned.contains("fine words"))
    }
}
