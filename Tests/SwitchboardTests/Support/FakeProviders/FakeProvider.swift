import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// One scripted answer of a fake model provider.
enum FakeReply: Sendable {
    /// A text answer, streamed in a few pieces.
    case text(String)
    /// Tool calls (several = parallel calls), with their arguments streamed in fragments; optionally text first.
    case toolCalls([FakeCall], text: String = "")
    /// An HTTP error, in the provider's error format.
    case status(Int, headers: [String: String] = [:], message: String = "fake failure")
    /// The stream starts, sends this text, then ends before the provider's end of stream (a cut connection).
    case cut(afterText: String)
    /// The stream sends this text, then the provider's own in-band error event.
    case inBandError(afterText: String)
    /// A text answer whose pieces come `delay` apart.
    case slow(String, delay: Duration)
    /// A streamed answer whose first event never ends: one `data` line of `megabytes` MiB, then the body ends.
    case endless(megabytes: Int)
}

struct FakeCall: Sendable {
    let id: String
    let name: String
    /// The arguments as JSON text.
    let arguments: String

    init(_ name: String, _ arguments: String = "{}", id: String = "call_\(UUID().uuidString.prefix(8).lowercased())") {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A fake OpenAI, Anthropic or Gemini: a real HTTP server on 127.0.0.1 that answers each request with the next
/// scripted reply, in that provider's exact wire format (streamed or not), and records what it was sent.
final class FakeProvider: Sendable {
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case openai, anthropic, gemini
        var testDescription: String { rawValue }
    }

    struct Recorded: Sendable {
        let path: String
        let headers: HTTPFields
        let body: JSONValue
    }

    let kind: Kind
    let apiKey = "sk-test-\(UUID().uuidString.lowercased())"
    private let replies: Mutex<[FakeReply]>
    private let recorded = Mutex<[Recorded]>([])
    private let slot = FakeServerSlot()

    private init(kind: Kind, replies: [FakeReply]) {
        self.kind = kind
        self.replies = Mutex(replies)
    }

    static func start(_ kind: Kind, _ replies: [FakeReply]) async throws -> FakeProvider {
        let fake = FakeProvider(kind: kind, replies: replies)
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            try await fake.respond(to: request)
        }
        switch kind {
        case .openai: router.post("/v1/chat/completions", use: handler)
        case .anthropic: router.post("/v1/messages", use: handler)
        case .gemini:
            router.post("/v1beta/models/**", use: handler)
            router.post("/v1/projects/**", use: handler) // Vertex AI
        }
        let server = try await FakeServer.start(router)
        fake.slot.hold(server)
        return fake
    }

    func stop() async {
        await slot.stop()
    }

    var baseURL: String {
        let base = slot.baseURL
        return kind == .openai ? base + "/v1" : base
    }

    /// A model configuration that points at this fake.
    func model(_ name: String, fallbacks: [String] = [], maxAttempts: Int = 3) -> ModelConfig {
        let provider: ModelConfig.Provider = switch kind {
        case .openai: .openai
        case .anthropic: .anthropic
        case .gemini: .gemini
        }
        var config = ModelConfig(name: name, provider: provider, model: "\(kind.rawValue)-test-model")
        config.baseURL = baseURL
        config.apiKey = apiKey
        config.fallbacks = fallbacks
        config.maxAttempts = maxAttempts
        // Generous: the SQLite run has every suite at once on two cores and can stall a fake for seconds. A read
        // timeout is retried, and the retry gets the next scripted reply: the likely cause of a CI run's first call
        // answered with its test's second reply.
        config.readTimeout = .seconds(60)
        return config
    }

    func enqueue(_ more: [FakeReply]) {
        replies.withLock { $0 += more }
    }

    var requests: RecordedRequests { RecordedRequests(all: recorded.withLock { $0 }) }

    private func respond(to request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 10 << 20)
        let json = JSONValue.parse(Data(buffer: body)) ?? .null
        recorded.withLock { $0.append(Recorded(path: request.uri.description, headers: request.headers, body: json)) }
        let reply = replies.withLock { $0.isEmpty ? FakeReply.text("(no more scripted replies)") : $0.removeFirst() }
        let streaming = switch kind {
        case .openai, .anthropic: json["stream"]?.boolValue == true
        case .gemini: request.uri.path.hasSuffix(":streamGenerateContent")
        }
        let wire: any FakeWire = switch kind {
        case .openai: OpenAIWire()
        case .anthropic: AnthropicWire()
        case .gemini: GeminiWire()
        }
        if case .status(let status, let headers, let message) = reply {
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: status), headers: fields,
                            body: .init(byteBuffer: ByteBuffer(string: wire.errorBody(status: status, message: message))))
        }
        if case .endless(let megabytes) = reply {
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                let piece = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20)
                try await writer.write(ByteBuffer(string: "data: "))
                for _ in 0..<megabytes { try await writer.write(piece) }
                try await writer.finish(nil)
            })
        }
        guard streaming else {
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: wire.whole(reply).jsonString)))
        }
        let events = wire.stream(reply)
        return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
            events: for event in events {
                switch event {
                case .bytes(let text): try await writer.write(ByteBuffer(string: text))
                // A pause ends when the fake stops, so a slow answer nobody reads any more does not hold the test up.
                case .pause(let delay): try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                case .cutShort:
                    // The HTTP body ends here, before the provider's own end of stream. (Throwing to close the socket
                    // instead lost the bytes written just before, now and then, on a loaded machine: the test then saw
                    // a failure before any output, not a cut answer.)
                    break events
                }
            }
            try await writer.finish(nil)
        })
    }
}

/// What a streamed fake response is made of.
enum FakeStreamEvent: Sendable {
    case bytes(String)
    case pause(Duration)
    /// End the response mid-stream, without the provider's end-of-stream event.
    case cutShort
}

/// One provider's wire format.
protocol FakeWire: Sendable {
    func stream(_ reply: FakeReply) -> [FakeStreamEvent]
    func whole(_ reply: FakeReply) -> JSONValue
    func errorBody(status: Int, message: String) -> String
}

extension FakeReply {
    /// The text in the pieces it is streamed in, and the pause between pieces (the first piece comes at once).
    var pieces: (text: [String], pause: Duration?) {
        switch self {
        case .text(let text), .cut(let text), .inBandError(let text): (Self.split(text), nil)
        case .toolCalls(_, let text): (Self.split(text), nil)
        case .slow(let text, let delay): (Self.split(text), delay)
        case .status, .endless: ([], nil)
        }
    }

    var calls: [FakeCall] {
        if case .toolCalls(let calls, _) = self { return calls }
        return []
    }

    var fullText: String { pieces.text.joined() }

    /// Three pieces or so, cut anywhere (even inside a word or a JSON token), as real streams are.
    static func split(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        let size = max(1, text.count / 3)
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return pieces
    }
}

/// Token counts every fake reports: 20 prompt tokens (5 of them cached), 10 output tokens (2 of them reasoning).
enum FakeUsage {
    static let input = 20
    static let cached = 5
    static let output = 10
    static let reasoning = 2
}

/// What a fake was sent, in order. Reading a request that was never made records a test issue and reads as an empty
/// request: the test fails, where an array's subscript would have trapped and taken every running test down with it.
struct RecordedRequests: RandomAccessCollection, Sendable {
    let all: [FakeProvider.Recorded]
    var startIndex: Int { 0 }
    var endIndex: Int { all.count }

    subscript(position: Int) -> FakeProvider.Recorded {
        guard all.indices.contains(position) else {
            Issue.record("request \(position) was never made: the fake was sent \(all.count)")
            return FakeProvider.Recorded(path: "", headers: [:], body: .null)
        }
        return all[position]
    }
}

extension ModelRouter {
    /// Builds a router over `configs`, runs `body`, and shuts the router down however `body` ends: a router left
    /// running when a `#require` throws would take the whole test process down (AsyncHTTPClient traps in `deinit`).
    static func with<T>(_ configs: [ModelConfig], defaultModel: String,
                        _ body: (ModelRouter) async throws -> T) async throws -> T {
        let router = try await ModelRouter.build(configs: configs, defaultModel: defaultModel, logger: TestDatabase.logger)
        do {
            let result = try await body(router)
            await router.shutdown()
            return result
        } catch {
            await router.shutdown()
            throw error
        }
    }
}
