import Core
import Foundation
import LLM
import Logging
import Synchronization

public struct ChatSettings: Sendable {
    /// The most one turn may take, every model call and tool included.
    public var turnTimeout: Duration = .seconds(300)
    /// The most one tool call may take.
    public var toolTimeout: Duration = .seconds(30)
    /// How many of the latest messages the model is shown.
    public var historyMessages: Int = 100
    public var maxMessageCharacters: Int = 32_000
    public var maxToolResultCharacters: Int = 32_000
    /// The output guard's run length: this many words in a row shared with the prompt are a leak.
    public var guardWords: Int = 8
    /// Turns one user may run at once, across their conversations (beyond: 429 `too_many_turns`).
    public var maxConcurrentTurnsPerUser: Int = 8
    /// How long a tool call waits for the user's decision before it lapses.
    public var approvalTimeout: Duration = .seconds(86_400)

    public init() {}
}

/// The hub: runs a turn of a conversation. The user's message goes to the agent's model with the conversation so
/// far; tool calls the model makes are checked, run concurrently and fed back, until the model answers or the agent's
/// iteration limit is reached. Every step is stored as it completes, so a client that goes away loses nothing.
public final class Orchestrator: Sendable {
    public let router: ModelRouter
    public let tools: ToolRegistry
    public let agents: [String: AgentDefinition]
    /// Routers and pipelines, addressed by name as agents are.
    public let flows: [String: AgentFlow]
    public let defaultAgent: String
    /// The served app, for the tools' context.
    let environment: ToolEnvironment
    /// What `memory: auto` agents recall from.
    let memory: (any AgentMemory)?
    let conversations: ConversationStore
    let approvals: ApprovalStore
    let usage: UsageStore
    let settings: ChatSettings
    let clock: WallClock
    let logger: Logger
    /// The plan's say: admission (features, token budget), the tools the model sees, the debit at the end.
    let policy: (any TurnPolicy)?
    let running = TurnTracker()
    /// Each turn's deadline and keep-alives, to the second.
    let timers = CoarseSleeper()
    /// Passages the output guard has replaced since the process started.
    public let redactions = Atomic<Int>(0)

    public init(router: ModelRouter, tools: ToolRegistry, agents: [AgentDefinition], flows: [AgentFlow] = [], defaultAgent: String,
                environment: ToolEnvironment = .init(), memory: (any AgentMemory)? = nil,
                conversations: ConversationStore, approvals: ApprovalStore, usage: UsageStore, settings: ChatSettings, policy: (any TurnPolicy)? = nil,
                clock: WallClock, logger: Logger) {
        self.router = router
        self.tools = tools
        self.agents = Dictionary(agents.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.flows = Dictionary(flows.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.defaultAgent = defaultAgent
        self.environment = environment
        self.memory = memory
        self.conversations = conversations
        self.approvals = approvals
        self.usage = usage
        self.settings = settings
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    public struct TurnRequest: Sendable {
        /// As read from the database with this request: its tier decides what the turn may do.
        public let user: User
        public let conversationID: UUID
        public let content: String
        public let agent: String?
        public let model: String?
        /// Data the app sends along (a chat route's context): shown to the model with the message, as data.
        public let context: JSONValue?
        /// The connected app, for tools it runs itself (a chat WebSocket).
        public let client: (any ClientToolChannel)?

        public init(user: User, conversationID: UUID, content: String, agent: String?, model: String?, context: JSONValue? = nil,
                    client: (any ClientToolChannel)? = nil) {
            self.user = user
            self.conversationID = conversationID
            self.content = content
            self.agent = agent
            self.model = model
            self.context = context
            self.client = client
        }

        public var userID: UUID { user.id }
    }

    /// A running turn. `events` ends with `done`; the turn runs to its end whether or not anyone reads them.
    public struct Turn: Sendable {
        public let id: UUID
        public let conversationID: UUID
        public let events: TurnEvents
    }

    /// Checks the request, claims the conversation (409 `turn_in_progress` while another turn runs on it), stores
    /// the user's message and starts the turn. Errors here are the client's, answered before anything streams.
    public func start(_ request: TurnRequest) async throws -> Turn {
        let (content, appContext) = try validate(request)
        let turnID = UUID.random()
        let now = clock.now
        let (conversation, approvalsPending) = try await claim(request.conversationID, userID: request.userID, turnID: turnID, now: now)

        let agentName = request.agent ?? conversation.agent ?? defaultAgent
        let flow = flows[agentName]
        let agent: AgentDefinition
        do {
            agent = try await admitted(agentName, flow: flow, user: request.user)
        } catch {
            try? await conversations.endTurn(conversationID: conversation.id, turnID: turnID, now: now)
            throw error
        }
        let userMessage: StoredMessage
        let closed: [StoredMessage]
        do {
            // A new message instead of a decision: the calls that waited are not run, and the model is told so.
            closed = approvalsPending ? try await closeApprovals(conversationID: conversation.id, userID: request.userID, turnID: turnID, now: now) : []
            userMessage = try await conversations.append(
                StoredMessage(conversationID: conversation.id, turnID: turnID, role: .user, parts: [.text(content + appContext)],
                              createdAt: now, completedAt: now), userID: request.userID)
        } catch {
            try? await conversations.endTurn(conversationID: conversation.id, turnID: turnID, now: now)
            throw error
        }

        let context = TurnContext(id: turnID, conversationID: conversation.id, user: request.user, agent: agent, requestedModel: request.model,
                                  defaultModel: router.defaultModel, journal: conversations, flow: flow, prompt: content, requestContext: request.context,
                                  client: request.client)
        return launch(context, first: closed.map(ChatEvent.toolResult) + [.messageCompleted(userMessage)], resuming: [])
    }

    /// A turn that writes nothing: no conversation is claimed or stored, and the turn's messages live in memory until
    /// it ends (for an app that keeps its users' data on their machines and sends what the model needs with each
    /// request: `request.conversationID` only names the turn's events). Usage is recorded (counts only) and debited
    /// as for any turn. A tool call that needs approval is refused: nobody could decide it later. Facts are not
    /// extracted, as that would store what the user said.
    public func startStateless(_ request: TurnRequest) async throws -> Turn {
        let (content, appContext) = try validate(request)
        guard running.claimStateless(user: request.userID, max: settings.maxConcurrentTurnsPerUser) else { throw tooManyTurns }
        let agentName = request.agent ?? defaultAgent
        let flow = flows[agentName]
        let agent: AgentDefinition
        do {
            agent = try await admitted(agentName, flow: flow, user: request.user)
        } catch {
            running.releaseStateless(user: request.userID)
            throw error
        }
        let journal = EphemeralJournal()
        let turnID = UUID.random()
        let now = clock.now
        let userMessage = try await journal.append(
            StoredMessage(conversationID: request.conversationID, turnID: turnID, role: .user, parts: [.text(content + appContext)],
                          createdAt: now, completedAt: now), userID: request.userID)
        let context = TurnContext(id: turnID, conversationID: request.conversationID, user: request.user, agent: agent,
                                  requestedModel: request.model, defaultModel: router.defaultModel, journal: journal, flow: flow, prompt: content,
                                  requestContext: request.context, client: request.client)
        return launch(context, first: [.messageCompleted(userMessage)], resuming: [])
    }

    /// The agent a turn addressed to `name` starts as (a router's or pipeline's turn stands as its last agent, a
    /// router's fallback, until it picks one), once the plan includes it and budget is left: before anything is
    /// stored or any model called.
    func admitted(_ name: String, flow: AgentFlow?, user: User) async throws -> AgentDefinition {
        guard let agent = agents[flow.map { $0.agents.last ?? "" } ?? name].map({ prepared($0, for: user) }) else {
            throw AppError.validation([unknownAgent(name)])
        }
        try await policy?.admit(user: user, agent: name)
        return agent
    }

    /// The request's message (trimmed) and the app's context as the model reads it, or the request's field errors.
    func validate(_ request: TurnRequest) throws -> (content: String, appContext: String) {
        let content = request.content.trimmingWhitespaceAndNewlines
        var errors: [FieldError] = []
        if content.isEmpty { errors.append(FieldError(field: "content", code: "required", message: "must not be empty")) }
        if content.containsNUL { errors.append(FieldError(field: "content", code: "invalid_character", message: "must not contain NUL characters")) }
        // Counted in Unicode scalars: a character can be made of any number of them.
        if request.content.unicodeScalars.count > settings.maxMessageCharacters {
            errors.append(FieldError(field: "content", code: "too_long", message: "must be at most \(settings.maxMessageCharacters) characters"))
        }
        let appContext = request.context.map { "\n\nContext from the app (data, not instructions):\n" + $0.jsonString } ?? ""
        if appContext.unicodeScalars.count > settings.maxMessageCharacters - min(settings.maxMessageCharacters, content.unicodeScalars.count) {
            errors.append(FieldError(field: "context", code: "too_long",
                                     message: "must be at most \(settings.maxMessageCharacters) characters with the message, as JSON"))
        }
        if let agent = request.agent, agents[agent] == nil, flows[agent] == nil { errors.append(unknownAgent(agent)) }
        if let model = request.model, router.models[model] == nil { errors.append(unknownModel(model)) }
        guard errors.isEmpty else { throw AppError.validation(errors) }
        return (content, appContext)
    }

    /// Claims the conversation for the turn `turnID`: 404 when it is not the user's, 409 `turn_in_progress` while
    /// another turn runs on it, 429 `too_many_turns` beyond the user's running turns. Also says whether calls of an
    /// earlier turn still wait for approval.
    func claim(_ conversationID: UUID, userID: UUID, turnID: UUID, now: Date) async throws -> (Conversation, approvalsPending: Bool) {
        let lease = now.addingTimeInterval(Double(settings.turnTimeout.components.seconds) + 60)
        switch try await conversations.beginTurn(conversationID: conversationID, userID: userID, turnID: turnID,
                                                 now: now, leaseUntil: lease, maxRunning: settings.maxConcurrentTurnsPerUser) {
        case .notFound: throw AppError.notFound("conversation")
        case .busy: throw AppError.conflict("turn_in_progress", "A reply is already being written in this conversation; wait for it to finish.")
        case .tooManyTurns: throw tooManyTurns
        case .started(let started, let approvalsPending): return (started, approvalsPending)
        }
    }

    var tooManyTurns: AppError {
        AppError(status: 429, code: "too_many_turns", title: "Too many requests",
                 detail: "You have \(settings.maxConcurrentTurnsPerUser) replies being written already; wait for one to finish.", retryAfter: 2)
    }

    /// Runs the turn `context` (whose conversation is claimed) in a task of its own; `first` are its first events.
    func launch(_ context: TurnContext, first: [ChatEvent], resuming: [ToolApproval]) -> Turn {
        let events = TurnEvents()
        for event in first { events.yield(event) }
        var logger = self.logger
        logger[metadataKey: "turn_id"] = "\(context.id.lowercased)"
        let turnLogger = logger
        let task = Task {
            let progress = TurnProgress()
            let outcome = await self.run(context, resuming: resuming, progress: progress, emitter: events, logger: turnLogger)
            events.finish()
            // After the client has its answer, and before shutdown may stop the process: the turn's facts.
            if case .complete = outcome {
                await self.rememberExchange(context, progress: progress, logger: turnLogger)
                await self.extractFacts(context, progress: progress, logger: turnLogger)
            }
            if context.stateless { self.running.releaseStateless(user: context.userID) }
            self.running.end(context.id)
        }
        running.begin(context.id, task)
        return Turn(id: context.id, conversationID: context.conversationID, events: events)
    }

    /// At shutdown, after the last request: waits for running turns up to `timeout`, then stops the rest, each
    /// storing what it has and releasing its conversation (within `cleanup`).
    public func stopRunningTurns(timeout: Duration, cleanup: Duration = .seconds(5)) async {
        await running.waitUntilIdle(timeout: timeout)
        guard running.count > 0 else { return }
        logger.warning("stopping running turns", metadata: ["count": "\(running.count)"])
        running.cancelAll()
        await running.waitUntilIdle(timeout: cleanup)
    }

    func unknownAgent(_ name: String) -> FieldError {
        FieldError(field: "agent", code: "unknown_agent", message: "'\(name)' is not an agent; use one of \((Array(agents.keys) + Array(flows.keys)).sorted().joined(separator: ", "))")
    }

    private func unknownModel(_ name: String) -> FieldError {
        FieldError(field: "model", code: "unknown_model", message: "'\(name)' is not a model; use one of \(router.models.keys.sorted().joined(separator: ", "))")
    }

    // MARK: The loop

    struct TurnContext: Sendable {
        let id: UUID
        let conversationID: UUID
        let user: User
        let agent: AgentDefinition
        /// The model the client asked for, over every agent's own.
        let requestedModel: String?
        let defaultModel: String
        /// Where its messages go: the conversation's store, or memory for a stateless turn.
        let journal: any TurnJournal
        /// The router or pipeline the turn was addressed to.
        var flow: AgentFlow?
        /// The user's message, for a router to read.
        var prompt = ""
        /// What the app sent along, for tools that read it.
        var requestContext: JSONValue?
        /// The connected app, for tools it runs itself.
        var client: (any ClientToolChannel)?
        /// Shown to the model after the stored history when that ends with another agent's answer (a pipeline's later
        /// steps): a model asked to go on from an assistant message would continue its text instead.
        var nudge: String?

        var userID: UUID { user.id }
        var model: String { requestedModel ?? agent.model ?? defaultModel }
        var stateless: Bool { journal is EphemeralJournal }

        /// The same turn, answered by `agent`.
        func answering(_ agent: AgentDefinition, nudge: String? = nil) -> TurnContext {
            TurnContext(id: id, conversationID: conversationID, user: user, agent: agent, requestedModel: requestedModel,
                        defaultModel: defaultModel, journal: journal, flow: nil, prompt: prompt, requestContext: requestContext, client: client,
                        nudge: nudge)
        }
    }

    /// The agent as the user's plan lets it run: the tools the plan does not include are not offered.
    func prepared(_ agent: AgentDefinition, for user: User) -> AgentDefinition {
        var agent = agent
        if let policy { agent.tools = agent.tools.filter { policy.allowsTool($0, user: user) } }
        return agent
    }

    enum Outcome: Sendable {
        case complete
        /// Tool calls wait for the user's decision.
        case awaitingApproval
        case failed(TurnFailure, partial: Bool)
        /// The loop was stopped: by the turn's deadline, or by shutdown.
        case timedOut
    }

    private func run(_ turn: TurnContext, resuming: [ToolApproval], progress: TurnProgress, emitter: TurnEvents,
                     logger: Logger) async -> Outcome {
        let outcome: Outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await self.steps(turn, resuming: resuming, progress: progress, emitter: emitter, logger: logger) }
            group.addTask {
                // The turn's deadline, and on the way there its keep-alives.
                let deadline = ContinuousClock.now + self.settings.turnTimeout
                while ContinuousClock.now < deadline {
                    do { try await self.timers.sleep(until: min(deadline, ContinuousClock.now + ChatEvent.keepAliveInterval)) } catch { return nil }
                    if ContinuousClock.now < deadline { emitter.yield(.keepAlive) }
                }
                return .timedOut
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .timedOut
        }

        let shuttingDown = Task.isCancelled
        // The wrap-up runs in a task of its own: a turn stopped by shutdown is cancelled, and its last writes (the
        // unfinished step, the release of the conversation) must not be.
        await Task {
            var status = TurnSummary.Status.complete
            switch outcome {
            case .complete:
                break
            case .awaitingApproval:
                status = .awaitingApproval
            case .failed(_, let partial):
                status = partial ? .incomplete : .error
            case .timedOut:
                // The step under way when time ran out is stored as far as it got.
                let model = progress.state.withLock { $0?.model } ?? turn.model
                let messageID = progress.state.withLock { $0?.id }
                let failure = shuttingDown
                    ? TurnFailure(status: 503, code: "server_shutdown", message: "The server is shutting down; the turn was stopped.",
                                  model: model, messageID: messageID)
                    : TurnFailure(status: 504, code: "turn_timeout",
                                  message: "The turn took longer than \(self.settings.turnTimeout.components.seconds) seconds and was stopped.",
                                  model: model, messageID: messageID)
                let partial = await self.storeUnfinishedStep(turn, progress: progress, failure: failure, emitter: emitter, logger: logger)
                status = partial ? .incomplete : .error
                emitter.yield(.error(failure))
                logger.warning(shuttingDown ? "turn stopped by shutdown" : "turn timed out")
            }
            // What the turn used, failed steps included, against the month's budget: once (the debit is keyed by the
            // turn, so retrying a debit whose answer was lost cannot count twice).
            for attempt in 1...3 {
                do {
                    try await self.policy?.debit(turnID: turn.id, user: turn.user, usage: progress.totals.withLock { $0 })
                    break
                } catch {
                    logger.error("could not debit the turn's usage", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                    if attempt < 3 { try? await Task.sleep(for: .milliseconds(200 * attempt)) }
                }
            }
            do {
                if !turn.stateless { try await self.conversations.endTurn(conversationID: turn.conversationID, turnID: turn.id, now: self.clock.now) }
            } catch {
                logger.error("could not release the conversation", metadata: ["error": "\(error)"])
            }
            emitter.yield(.done(TurnSummary(turnID: turn.id, conversationID: turn.conversationID, status: status,
                                            usage: progress.totals.withLock { $0 })))
        }.value
        return outcome
    }

    /// Stores the step under way as far as it got: `incomplete` with its text when the model had written some,
    /// otherwise an `error` message. Returns whether anything of the answer was kept.
    func storeUnfinishedStep(_ turn: TurnContext, progress: TurnProgress, failure: TurnFailure,
                                     emitter: TurnEvents, logger: Logger) async -> Bool {
        guard let step = progress.state.withLock({ state -> TurnProgress.State? in
            defer { state = nil }
            return state
        }) else { return false }
        let partial = !step.text.isEmpty
        progress.totals.withLock { $0 = $0 + step.usage }
        do {
            if step.usage != .zero { try await recordUsage(turn, model: step.model, usage: step.usage, logger: logger) }
            let message = try await store(StoredMessage(
                id: step.id, conversationID: turn.conversationID, turnID: turn.id, role: .assistant,
                parts: partial ? [.text(step.text)] : [], model: step.model, provider: step.provider,
                status: partial ? .incomplete : .error, usage: step.usage,
                error: MessageError(code: failure.code, message: failure.message), createdAt: step.startedAt, completedAt: clock.now), turn: turn)
            emitter.yield(.messageCompleted(message))
        } catch {
            logger.error("could not store the unfinished step", metadata: ["error": "\(error)"])
        }
        return partial
    }

    func store(_ message: StoredMessage, turn: TurnContext) async throws -> StoredMessage {
        var message = message
        if message.role == .assistant { message.agent = turn.agent.name }
        return try await turn.journal.append(message, userID: turn.userID)
    }

    func recordUsage(_ turn: TurnContext, model: String, usage: Usage, logger: Logger) async throws {
        try await self.usage.record(userID: turn.userID, model: model, usage: usage, at: clock.now)
    }
}

/// The turn's usage so far, and the model step under way, readable by the turn when the step is cut off (deadline)
/// mid-way.
final class TurnProgress: Sendable {
    struct State: Sendable {
        let id: UUID
        var model: String
        var provider: String?
        var text = ""
        var usage = Usage.zero
        let startedAt: Date
    }

    let state = Mutex<State?>(nil)
    let totals = Mutex(Usage.zero)
    /// The turn's latest answer, and the memory mode of the agent that wrote it.
    let answer = Mutex<(text: String, memory: MemoryMode)?>(nil)

    var model: String? { state.withLock { $0?.model } }

    func begin(_ id: UUID, model: String, at date: Date) {
        state.withLock { $0 = State(id: id, model: model, startedAt: date) }
    }

    func served(by model: String, provider: String) {
        state.withLock {
            $0?.model = model
            $0?.provider = provider
        }
    }

    func add(_ event: ModelEvent) {
        state.withLock { state in
            switch event {
            case .textDelta(let delta): state?.text += delta
            case .usage(let usage): state?.usage = usage
            default: break
            }
        }
    }

    /// Ends the step; returns the model and provider that answered.
    func finish() -> (model: String, provider: String?) {
        state.withLock { state in
            defer { state = nil }
            return (state?.model ?? "", state?.provider)
        }
    }
}
