import Agents
import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import LLM
import Logging
import Synchronization

/// `GET /api/v1/chat/stream`: chat over a WebSocket. The client sends `{conversation_id, content, agent?, model?}`
/// frames and receives every turn's events as `{event, id, data}` frames, the same events as the SSE stream.
///
/// Authentication: the `Authorization` header of the upgrade request, or, since browsers cannot set it, a first
/// frame `{"type": "auth", "access_token": "..."}` within 10 seconds. The token is checked again for every message,
/// so a logged-out session stops being served at once; an `auth` frame can bring a fresh token at any time.
/// Every chat frame counts against the tier's request rate like an HTTP request, and an API key needs its `chat`
/// scope and a plan that includes API keys.
struct ChatSocket: Sendable {
    static let path: RouterPath = "/api/v1/chat/stream"
    static let authenticationWindow: Duration = .seconds(10)
    static let maxFrameBytes = 1 << 20
    let accounts: Accounts
    let orchestrator: Orchestrator
    let plans: Plans
    /// Nil when rate limiting is off.
    let limiter: (any RateLimiter)?
    let clock: WallClock
    let logger: Logger

    /// The upgrade route, on the router that only sees upgrade requests.
    func register(on router: Router<AppRequestContext>) {
        router.ws(Self.path, shouldUpgrade: { request, _ in
            // A header that is there must be good; without one the first frame authenticates.
            if let header = request.headers[.authorization] {
                guard let token = Self.bearer(header), (try? await accounts.authenticate(bearer: token)) != nil else { return .dontUpgrade }
            }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            try await serve(inbound, outbound, token: context.request.headers[.authorization].flatMap(Self.bearer))
        })
    }

    /// The same path on the HTTP router answers requests that were not upgraded: 401 for a missing or rejected
    /// token, 426 otherwise.
    static func registerFallback(on router: Router<AppRequestContext>) {
        router.get(path) { _, _ -> Response in
            _ = try RequestScope.requireIdentity()
            throw AppError(status: 426, code: "websocket_required", title: "Upgrade required",
                           detail: "Connect to this route with a WebSocket client (Upgrade: websocket).")
        }
    }

    private func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, token headerToken: String?) async throws {
        let (frames, sink) = AsyncStream.makeStream(of: String.self)
        // One writer: turns running side by side never interleave their frames.
        async let written: Void = {
            for await frame in frames { try? await outbound.write(.text(frame)) }
        }()
        let authenticated = Flag(headerToken != nil)
        var refusal: AppError?
        try await withThrowingTaskGroup(of: Void.self) { group in
            if headerToken == nil {
                group.addTask {
                    try await Task.sleep(for: Self.authenticationWindow)
                    if !authenticated.isSet { try await outbound.close(.policyViolation, reason: "authentication required") }
                }
            }
            var token = headerToken
            for try await message in inbound.messages(maxSize: Self.maxFrameBytes) {
                guard case .text(let text) = message, let frame = JSONValue.parse(text), case .object = frame else {
                    sink.yield(Self.errorFrame(AppError.badRequest("Send JSON objects as text frames.", code: "invalid_frame"), conversationID: nil))
                    continue
                }
                if frame["type"]?.stringValue == "auth" {
                    token = frame["access_token"]?.stringValue
                }
                // Every frame re-checks the token: revocation and expiry apply to open sockets too.
                let identity: Identity
                do {
                    guard let token else { throw AppError.unauthorized("unauthorized", "Send {\"type\": \"auth\", \"access_token\": ...} first.") }
                    identity = try await accounts.authenticate(bearer: token)
                } catch {
                    refusal = (error as? AppError) ?? AppError.unauthorized()
                    break
                }
                authenticated.set()
                if frame["type"]?.stringValue == "auth" { continue }

                let conversation = frame["conversation_id"]?.stringValue
                do {
                    try plans.authorize(identity, scope: "chat", feature: nil)
                    if let limiter {
                        let decision = try await RateLimitMiddleware.acquire(limiter, for: identity.user, plans: plans, clock: clock)
                        guard decision.allowed else { throw RateLimitMiddleware.refusal(decision) }
                    }
                    guard let conversation, let conversationID = UUID(uuidString: conversation) else {
                        throw AppError.validation([FieldError(field: "conversation_id", code: "required", message: "must be a conversation id")])
                    }
                    let turn = try await orchestrator.start(.init(
                        user: identity.user, conversationID: conversationID, content: frame["content"]?.stringValue ?? "",
                        agent: frame["agent"]?.stringValue, model: frame["model"]?.stringValue))
                    group.addTask {
                        var id = 0
                        for await event in turn.events {
                            id += 1
                            sink.yield(ChatEventEncoding.frame(event, id: id))
                        }
                    }
                } catch {
                    sink.yield(Self.errorFrame(Problem.appError(for: error, logger: logger), conversationID: conversation))
                }
            }
            // The client is gone, or was refused: stop forwarding. Turns run on and are stored.
            group.cancelAll()
        }
        if let refusal { sink.yield(Self.errorFrame(refusal, conversationID: nil)) }
        sink.finish()
        await written
        if let refusal { try? await outbound.close(.policyViolation, reason: refusal.code) }
    }

    /// A request that could not start a turn, as an `error` frame shaped like a turn's.
    static func errorFrame(_ error: AppError, conversationID: String?) -> String {
        var data: [String: JSONValue] = ["status": .int(Int64(error.status)), "code": .string(error.code),
                                         "message": .string(error.detail ?? error.title),
                                         "conversation_id": conversationID.map(JSONValue.string) ?? .null]
        if let retryAfter = error.retryAfter { data["retry_after"] = .int(Int64(retryAfter)) }
        if !error.fieldErrors.isEmpty {
            data["errors"] = .array(error.fieldErrors.map { ["field": .string($0.field), "code": .string($0.code), "message": .string($0.message)] })
        }
        return JSONValue.object(["event": "error", "id": 0, "data": .object(data)]).jsonString
    }

    static func bearer(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1].drop { $0 == " " })
    }
}

/// A flag tasks share.
private final class Flag: Sendable {
    private let value: Atomic<Bool>

    init(_ initial: Bool) {
        value = Atomic(initial)
    }

    var isSet: Bool { value.load(ordering: .relaxed) }

    func set() {
        value.store(true, ordering: .relaxed)
    }
}
