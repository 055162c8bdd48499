import API
import Agents
import Blueprints
import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import Logging
import NIOCore

/// A blueprint's chat routes: a turn with the route's agent at the app's own path, read from and answered in the
/// app's own field names. Behind the router's middleware like every route (authentication, rate limits, body
/// limit), then the policy `sendMessage` has: the `chat` scope for API keys and the plan's `chat` feature; the turn
/// itself holds the budget, the tools and the approvals.
struct ChatRoutes: Sendable {
    let blueprint: Blueprint
    let orchestrator: Orchestrator
    let conversations: ConversationStore
    let plans: Plans
    let clock: WallClock
    let maxBodyBytes: Int
    /// Plan mode and playbooks, for an app with `plans:`.
    let planMode: PlanMode?

    func register(on router: Router<AppRequestContext>) {
        planMode?.register(on: router)
        for route in blueprint.chatRoutes {
            guard route.method != ChatRoute.webSocket else {
                ChatSocket.registerFallback(blueprint.prefix + route.path, on: router)
                continue
            }
            router.on(RouterPath(blueprint.prefix + route.path), method: HTTPRequest.Method(route.method) ?? .post) { request, context in
                try await handle(route, request, eventLoop: context.eventLoop)
            }
        }
    }

    private func handle(_ route: ChatRoute, _ request: Request, eventLoop: any EventLoop) async throws -> Response {
        let identity = try RequestScope.requireIdentity()
        let body = try await JSONBody.read(request, maxBytes: maxBodyBytes)
        let asked = try read(route, body: body, identity: identity)
        if asked.plan {
            guard let planMode else { throw AppError.validation([FieldError(field: route.field(for: .mode) ?? "mode", code: "invalid_value", message: "must be direct")]) }
            return JSONBody.response(.ok, try await naming(route) {
                try await planMode.plan(content: asked.content, context: asked.context, agent: asked.agent ?? route.agent, identity: identity)
            })
        }
        let turn = try await begin(route, asked, identity: identity, client: nil)
        let accept = request.headers.value(.accept) ?? ""
        if asked.stream ?? (accept.contains("text/event-stream") && !accept.contains("application/json")) {
            let events = EventStream(turn.events)
            return Response(status: .ok, headers: [.contentType: "text/event-stream"],
                            body: EventLoopTaskExecutor.streamed(events.map { ByteBuffer(bytes: $0) }, on: eventLoop))
        }
        return JSONBody.response(.ok, Self.answer(try await CollectedTurn.collect(turn), route: route, blueprint: blueprint))
    }

    /// A request in the route's fields, read and type-checked.
    struct Asked: Sendable {
        let content: String
        let conversation: UUID?
        let agent: String?
        let stream: Bool?
        let context: JSONValue?
        /// `plan` asked for (the route maps `mode`).
        let plan: Bool
    }

    /// Reads a request (or a WebSocket frame) in the app's fields. The policy is `sendMessage`'s: the `chat` scope
    /// for API keys, the plan's `chat` feature.
    func read(_ route: ChatRoute, body: JSONValue, identity: Identity) throws -> Asked {
        try plans.authorize(identity, scope: "chat", feature: "chat")
        guard case .object(let body) = body else {
            throw AppError.badRequest("The request body must be a JSON object.", code: "malformed_body")
        }
        var errors: [FieldError] = []
        /// The value of the field the route maps to `slot`, checked to be of the type the slot needs.
        func value<T>(_ slot: ChatRoute.Slot, _ read: (JSONValue) -> T?, _ kind: String) -> T? {
            guard let field = route.field(for: slot), let given = body[field], given != .null else { return nil }
            guard let typed = read(given) else {
                errors.append(FieldError(field: field, code: "invalid_type", message: "must be \(kind)"))
                return nil
            }
            return typed
        }
        let content = value(.content, \.stringValue, "text")
        if content == nil, errors.isEmpty, let field = route.field(for: .content) {
            errors.append(FieldError(field: field, code: "required", message: "is required"))
        }
        let mode = value(.mode, { $0.stringValue.flatMap { ["direct", "plan"].contains($0) ? $0 : nil } }, "direct or plan")
        let asked = Asked(content: content ?? "", conversation: value(.conversation, { $0.stringValue.flatMap(UUID.parse) }, "a conversation's id"),
                          agent: value(.agent, \.stringValue, "an agent's name"), stream: value(.stream, \.boolValue, "true or false"),
                          context: value(.context, { $0 }, "JSON"), plan: mode == "plan")
        guard errors.isEmpty else { throw AppError.validation(errors) }
        return asked
    }

    /// Starts the route's turn for a request (or a WebSocket frame) in the app's fields.
    func start(_ route: ChatRoute, body: JSONValue, identity: Identity, client: (any ClientToolChannel)? = nil) async throws -> Orchestrator.Turn {
        let asked = try read(route, body: body, identity: identity)
        if asked.plan, let field = route.field(for: .mode) {
            throw AppError.validation([FieldError(field: field, code: "invalid_value", message: "plans are answered over HTTP: POST the request")])
        }
        return try await begin(route, asked, identity: identity, client: client)
    }

    private func begin(_ route: ChatRoute, _ asked: Asked, identity: Identity, client: (any ClientToolChannel)?) async throws -> Orchestrator.Turn {
        let user = identity.user
        return try await naming(route) {
            if route.stateless {
                return try await orchestrator.startStateless(.init(user: user, conversationID: UUID.random(), content: asked.content,
                                                                   agent: asked.agent ?? route.agent, model: nil, context: asked.context, client: client))
            }
            let conversationID: UUID
            var created: UUID?
            let key = route.method + " " + route.path
            if let conversation = asked.conversation {
                conversationID = conversation
            } else if route.newConversation {
                conversationID = try await conversations.create(userID: user.id, title: Self.title(asked.content), agent: route.agent,
                                                                metadata: ["chat_route": .string(key)], now: clock.now).id
                created = conversationID
            } else {
                conversationID = try await conversations.routeConversation(app: blueprint.name, route: key, userID: user.id, agent: route.agent,
                                                                           now: clock.now)
            }
            do {
                return try await orchestrator.start(.init(user: user, conversationID: conversationID, content: asked.content,
                                                          agent: asked.agent ?? route.agent, model: nil, context: asked.context, client: client))
            } catch {
                // A turn refused before it began (the plan, a quota, a limit) leaves no empty conversation behind.
                if let created { _ = try? await conversations.delete(id: created, userID: user.id) }
                throw error
            }
        }
    }

    /// A new conversation's title: the message's first line, cut at a word to at most 80 characters.
    static func title(_ content: String) -> String? {
        let line = content.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard line.count > 80 else { return line.isEmpty ? nil : line }
        let cut = line.prefix(79)
        return (cut.lastIndex(of: " ").map { String(cut[..<$0]) } ?? String(cut)) + "…"
    }

    /// Runs `work`, its field errors named in the app's fields: the turn's checks name the platform's.
    private func naming<T>(_ route: ChatRoute, _ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch var error as AppError {
            error.fieldErrors = error.fieldErrors.map { fieldError in
                let slot = ChatRoute.Slot(rawValue: fieldError.field)
                return FieldError(field: slot.flatMap(route.field(for:)) ?? fieldError.field, code: fieldError.code, message: fieldError.message)
            }
            throw error
        }
    }

    /// The route's WebSocket: each frame a request in the app's fields; a `response` frame in its fields before `done`.
    func socket(_ route: ChatRoute, accounts: Accounts, limiter: (any RateLimiter)?, logger: Logger) -> ChatSocket {
        let routes = self
        let start: @Sendable (Identity, JSONValue, any ClientToolChannel) async throws -> Orchestrator.Turn = { identity, frame, client in
            try await routes.start(route, body: frame, identity: identity, client: client)
        }
        var response: (@Sendable (CollectedTurn.Outcome) -> JSONValue)?
        let blueprint = blueprint
        if route.mapsResponse, route.frames == nil { response = { @Sendable outcome in Self.answer(outcome, route: route, blueprint: blueprint) } }
        return ChatSocket(accounts: accounts, orchestrator: orchestrator, plans: plans, limiter: limiter, clock: clock, logger: logger,
                          path: blueprint.prefix + route.path, start: start, response: response,
                          shape: route.frames.map { RouteFrames(frames: $0, blueprint: blueprint) })
    }

    /// The turn's result in the route's field names; the platform's turn result when the route maps none.
    static func answer(_ turn: CollectedTurn.Outcome, route: ChatRoute, blueprint: Blueprint) -> JSONValue {
        let values = Self.values(turn, blueprint: blueprint)
        guard route.mapsResponse else {
            var result: [String: JSONValue] = ["turn_id": values[.turnID]!, "conversation_id": values[.conversationID]!, "status": values[.status]!,
                                               "message": values[.message]!, "messages": values[.messages]!, "usage": values[.usage]!]
            if !turn.approvals.isEmpty { result["approvals"] = values[.approvals]! }
            return .object(result)
        }
        var answer = route.response.mapValues { values[$0] ?? .null }
        for (field, name) in route.outputFields { answer[field] = values[.output]?[name] ?? .null }
        return .object(answer)
    }

    /// What each response source holds for a turn that ended.
    static func values(_ turn: CollectedTurn.Outcome, blueprint: Blueprint) -> [ChatRoute.Source: JSONValue] {
        let message = turn.final.json
        let approvals = JSONValue.array(turn.approvals.map { ChatEventEncoding.json(Components.Schemas.Approval($0, now: $0.createdAt)) })
        let text = turn.final.parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined()
        // The answer's JSON, when the turn's agent answers in JSON and the answer follows its schema.
        let output = turn.final.agent.flatMap { agent in blueprint.agents.first { $0.name == agent }?.outputFormat }?.answer(text)
        return [
            .messageText: .string(text),
            .messageID: .string(turn.final.id.lowercased), .message: message,
            .messages: .array(turn.messages.map(\.json)),
            .conversationID: .string(turn.conversationID.lowercased), .turnID: .string(turn.turnID.lowercased),
            .status: .string(turn.status), .usage: turn.summary.usage.json, .approvals: approvals,
            .actions: .array(ClientTool.actions(in: turn.messages, blueprint: blueprint)),
            .output: output ?? .null,
        ]
    }
}
