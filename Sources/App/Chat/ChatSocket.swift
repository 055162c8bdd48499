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
/// frames and receives every turn's events as `{event, id, data}` frames, the same events as the SSE stream. A
/// blueprint's WebSocket chat routes are the same socket at their own path, reading frames in the app's fields.
/// Tools the app runs itself arrive as `tool.request` frames, answered by `tool.result` frames (`SocketToolCalls`).
///
/// Authentication: the `Authorization` header of the upgrade request, or, since browsers cannot set it, a first
/// frame `{"type": "auth", "access_token": "..."}` within 10 seconds. The token is checked again for every message,
/// so a logged-out session stops being served at once; an `auth` frame can bring a fresh token at any time.
/// Before authentication any other frame closes the socket; after it every frame (chat, `auth`, or malformed)
/// counts against the tier's request rate like an HTTP request, and an API key needs its `chat` scope and a plan
/// that includes API keys. A client that leaves `maxQueuedBytes` of frames unread is disconnected.
struct ChatSocket: Sendable {
    static let platformPath = "/api/v1/chat/stream"
    static let authenticationWindow: Duration = .seconds(10)
    static let maxFrameBytes = 1 << 20
    /// A client that leaves this much unread is not reading: the socket is closed rather than holding it in memory.
    static let maxQueuedBytes = 4 << 20
    static let drainWindow: Duration = .seconds(2)
    let accounts: Accounts
    let orchestrator: Orchestrator
    let plans: Plans
    /// Nil when rate limiting is off.
    let limiter: (any RateLimiter)?
    let clock: WallClock
    let logger: Logger
    let path: String
    /// Starts the turn one chat frame of an authenticated client asks for; the client runs the turn's client tools.
    let start: @Sendable (Identity, JSONValue, any ClientToolChannel) async throws -> Orchestrator.Turn
    /// A chat route's answer in its own fields, sent as a `response` frame just before `done`; nil: none.
    var response: (@Sendable (CollectedTurn.Outcome) -> JSONValue)?
    /// A chat route's own frames instead of the platform's events (errors and tool requests excepted); nil: none.
    var shape: (any SocketFrameShape)?

    /// The platform's socket: `{conversation_id, content, agent?, model?}` frames.
    static func platform(accounts: Accounts, orchestrator: Orchestrator, plans: Plans, limiter: (any RateLimiter)?, clock: WallClock,
                         logger: Logger) -> ChatSocket {
        ChatSocket(accounts: accounts, orchestrator: orchestrator, plans: plans, limiter: limiter, clock: clock, logger: logger,
                   path: platformPath) { identity, frame, client in
            try plans.authorize(identity, scope: "chat", feature: nil)
            guard let conversation = frame["conversation_id"]?.stringValue, let conversationID = UUID(uuidString: conversation) else {
                throw AppError.validation([FieldError(field: "conversation_id", code: "required", message: "must be a conversation id")])
            }
            return try await orchestrator.start(.init(user: identity.user, conversationID: conversationID, content: frame["content"]?.stringValue ?? "",
                                                      agent: frame["agent"]?.stringValue, model: frame["model"]?.stringValue, client: client))
        }
    }

    /// The upgrade route, on the router that only sees upgrade requests.
    func register(on router: Router<AppRequestContext>) {
        router.ws(RouterPath(path), shouldUpgrade: { request, _ in
            // A header that is there must be good; without one the first frame authenticates.
            if let header = request.headers.value(.authorization) {
                guard let token = Authentication.bearerToken(header), (try? await accounts.authenticate(bearer: token)) != nil else { return .dontUpgrade }
            }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            try await serve(inbound, outbound, token: context.request.headers.value(.authorization).flatMap(Authentication.bearerToken))
        })
    }

    /// The same path on the HTTP router answers requests that were not upgraded: 401 for a missing or rejected
    /// token, 426 otherwise.
    static func registerFallback(_ path: String, on router: Router<AppRequestContext>) {
        router.get(RouterPath(path)) { _, _ -> Response in
            _ = try RequestScope.requireIdentity()
            throw AppError(status: 426, code: "websocket_required", title: "Upgrade required",
                           detail: "Connect to this route with a WebSocket client (Upgrade: websocket).")
        }
    }

    private func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, token headerToken: String?) async throws {
        let outbox = SocketOutbox(maxBytes: Self.maxQueuedBytes)
        // One writer: turns running side by side never interleave their frames.
        let writer = Task {
            for await frame in outbox.frames {
                do { try await outbound.write(.text(frame)) } catch { return }
                outbox.written(frame)
            }
        }
        let authenticated = Flag(headerToken != nil)
        let toolCalls = SocketToolCalls(send: outbox.send)
        defer { toolCalls.close() }
        // Whichever ends first ends the socket: the client (leaving, or refused), the authentication window, or a
        // client that stopped reading while its frames piled up.
        let refusal = await withTaskGroup(of: SocketEnding.self) { group -> AppError? in
            group.addTask {
                .ended(await receive(inbound, token: headerToken, authenticated: authenticated, outbox: outbox, toolCalls: toolCalls))
            }
            group.addTask { await outbox.overflow(); return .ended(Self.tooSlow) }
            if headerToken == nil {
                group.addTask {
                    try? await Task.sleep(for: Self.authenticationWindow)
                    return authenticated.isSet ? .authenticatedInTime : .ended(Self.authenticationTimeout)
                }
            }
            var refusal: AppError?
            while let next = await group.next() {
                if case .ended(let reason) = next {
                    refusal = reason
                    break
                }
            }
            group.cancelAll()
            return refusal
        }
        if let refusal { outbox.send(Self.errorFrame(refusal, conversationID: nil)) }
        outbox.finish()
        // A client that reads gets what is queued; one that does not is not waited for.
        await Self.finish(writer, within: Self.drainWindow)
        if let refusal { try? await outbound.close(.policyViolation, reason: refusal.code) }
    }

    /// Reads the client's frames until it leaves or is refused; returns the refusal. Before the socket is
    /// authenticated, any frame but a good `auth` one (or a chat frame with a header token) is refused; after, every
    /// frame, even a malformed one, counts against the plan's request rate.
    private func receive(_ inbound: WebSocketInboundStream, token headerToken: String?, authenticated: Flag, outbox: SocketOutbox,
                         toolCalls: SocketToolCalls) async -> AppError? {
        await withTaskGroup(of: Void.self) { turns -> AppError? in
            defer { turns.cancelAll() }  // The client is gone or refused: stop forwarding. Turns run on and are stored.
            var token = headerToken
            var identity: Identity?
            do {
                for try await message in inbound.messages(maxSize: Self.maxFrameBytes) {
                    guard case .text(let text) = message, let frame = JSONValue.parse(text), case .object = frame else {
                        guard let known = identity else { return AppError.unauthorized("unauthorized", "Authenticate first: send {\"type\": \"auth\", \"access_token\": ...}.") }
                        let refusal = try await admit(known) ?? AppError.badRequest("Send JSON objects as text frames.", code: "invalid_frame")
                        outbox.send(Self.errorFrame(refusal, conversationID: nil))
                        continue
                    }
                    if frame["type"]?.stringValue == "auth" {
                        token = frame["access_token"]?.stringValue
                    }
                    // Every frame re-checks the token: revocation and expiry apply to open sockets too.
                    do {
                        guard let token else { throw AppError.unauthorized("unauthorized", "Send {\"type\": \"auth\", \"access_token\": ...} first.") }
                        identity = try await accounts.authenticate(bearer: token)
                    } catch {
                        return (error as? AppError) ?? AppError.unauthorized()
                    }
                    guard let identity else { return AppError.unauthorized() }
                    authenticated.set()
                    let conversation = frame["conversation_id"]?.stringValue
                    do {
                        if let refusal = try await admit(identity) { throw refusal }
                        if frame["type"]?.stringValue == "auth" { continue }
                        if frame["type"]?.stringValue == "tool.result" {
                            if !toolCalls.deliver(frame) {
                                throw AppError.badRequest("No tool call waits for this request_id.", code: "unknown_tool_request")
                            }
                            continue
                        }
                        let turn = try await start(identity, frame, toolCalls)
                        turns.addTask {
                            var id = 0
                            var collected = CollectedTurn(turn)
                            for await event in turn.events {
                                if case .keepAlive = event { continue } // a WebSocket has pings of its own
                                id += 1
                                collected.add(event)
                                if let shape {
                                    switch event {
                                    case .messageDelta(_, let delta): if let frame = shape.delta(delta) { outbox.send(frame) }
                                    case .error: outbox.send(ChatEventEncoding.frame(event, id: id))
                                    case .done: outbox.send(shape.final(try? collected.outcome()))
                                    default: break
                                    }
                                    continue
                                }
                                if case .done = event, let response, let outcome = try? collected.outcome() {
                                    outbox.send(JSONValue.object(["event": "response", "id": .int(Int64(id)), "data": response(outcome)]).jsonString)
                                    id += 1
                                }
                                outbox.send(ChatEventEncoding.frame(event, id: id))
                            }
                        }
                    } catch {
                        outbox.send(Self.errorFrame(Problem.appError(for: error, logger: logger), conversationID: conversation))
                    }
                }
            } catch {
                // The connection failed or was cancelled: nothing to tell the client.
            }
            return nil
        }
    }

    /// The plan's request rate, for one frame of `identity`: the 429 to send, or nil when the frame may go on.
    private func admit(_ identity: Identity) async throws -> AppError? {
        guard let limiter else { return nil }
        let decision = try await RateLimit.acquire(limiter, for: identity.user, plans: plans, clock: clock)
        return decision.allowed ? nil : RateLimit.refusal(decision)
    }

    /// Waits for `writer` to send what is queued, at most `window`; then stops it (a write to a client that does not
    /// read is cancelled).
    private static func finish(_ writer: Task<Void, Never>, within window: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await writer.value }
            group.addTask { try? await Task.sleep(for: window) }
            await group.next()
            writer.cancel()
            group.cancelAll()
        }
    }

    static let authenticationTimeout = AppError.unauthorized("authentication_timeout", "No authentication within 10 seconds.")
    static let tooSlow = AppError(status: 429, code: "client_too_slow", title: "Too many requests",
                                  detail: "The client stopped reading while frames piled up.")

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
}

/// A route's own socket frames: one per piece of the answer (or none), one to end each turn.
protocol SocketFrameShape: Sendable {
    func delta(_ text: String) -> String?
    /// `outcome` is nil when the turn failed (its error frame has gone out already).
    func final(_ outcome: CollectedTurn.Outcome?) -> String
}

/// How the parts of a socket's life end.
private enum SocketEnding: Sendable {
    case authenticatedInTime
    case ended(AppError?)
}

/// The frames waiting for the socket's one writer, counted in bytes: past `maxBytes` the client is not reading, and
/// `overflow()` returns so that the socket can be closed instead of growing without bound.
private final class SocketOutbox: Sendable {
    let frames: AsyncStream<String>
    private let sink: AsyncStream<String>.Continuation
    private let queued = Atomic<Int>(0)
    private let overflowed: AsyncStream<Void>
    private let overflowSink: AsyncStream<Void>.Continuation
    private let maxBytes: Int

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
        (frames, sink) = AsyncStream.makeStream(of: String.self)
        (overflowed, overflowSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func send(_ frame: String) {
        let total = queued.add(frame.utf8.count, ordering: .relaxed).newValue
        if total > maxBytes {
            overflowSink.yield()
            return
        }
        sink.yield(frame)
    }

    func written(_ frame: String) {
        queued.subtract(frame.utf8.count, ordering: .relaxed)
    }

    func finish() {
        sink.finish()
        overflowSink.finish()
    }

    /// Returns when the queue overflows (or the outbox is finished).
    func overflow() async {
        for await _ in overflowed { return }
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
