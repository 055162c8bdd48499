import Core
import Foundation
import LLM
import Logging

/// An agent's steps within a turn: the model answers, the tools it calls run, until it answers without calling one.
///
/// Each phase is a function of its own, kept out of line. An async function's frame holds, for the whole call, the
/// locals of everything inlined into it, and a task keeps the most frame memory it ever used until it ends. As one
/// function, the loop's frame was 23 KiB, carried by every turn held open on a model's answer; split, a held turn
/// carries the loop's few locals and the one phase under way.
extension Orchestrator {
    @inline(never)
    func loop(_ turn: TurnContext, resuming: [ToolApproval], progress: TurnProgress, emitter: TurnEvents,
              logger: Logger) async -> Outcome {
        do {
            let toolContext = ToolContext(userID: turn.userID, tier: turn.user.tier, conversationID: turn.conversationID, app: environment,
                                          requestContext: turn.requestContext, client: turn.client, logger: logger)
            if !resuming.isEmpty {
                // The decided calls of the paused step run (or are answered with their rejection) before the model
                // sees the conversation again.
                await runDecided(resuming, turn: turn, context: toolContext, finished: toolResultStorer(turn, emitter: emitter, logger: logger))
                if Task.isCancelled { return .timedOut }
            }
            let setup = try await prepareSteps(turn, logger: logger)
            var history = setup.history
            var steps = 0
            while true {
                if let end = try await admitStep(turn, after: steps, progress: progress, emitter: emitter, logger: logger) { return end }
                steps += 1
                let request = ChatRequest(system: setup.system, messages: history, tools: setup.specs, output: turn.agent.output)
                switch await modelStep(turn, request: request, guardRuns: setup.guardRuns, progress: progress, emitter: emitter, logger: logger) {
                case .ended(let outcome):
                    return outcome
                case .answered(let answer):
                    if let end = try await finishStep(answer, turn: turn, history: &history, guardRuns: setup.guardRuns, toolContext: toolContext,
                                                      progress: progress, emitter: emitter, logger: logger) {
                        return end
                    }
                }
            }
        } catch let error as AppError where error.status < 500 {
            // What the client can act on stays what it is: a conversation deleted while its turn ran is a 404.
            if Task.isCancelled { return .timedOut }
            logger.warning("turn stopped", metadata: ["code": "\(error.code)"])
            let failure = TurnFailure(error)
            emitter.yield(.error(failure))
            return .failed(failure, partial: false)
        } catch {
            if Task.isCancelled { return .timedOut }
            logger.error("turn failed", metadata: ["error_type": "\(type(of: error))", "error": "\(error)"])
            let failure = TurnFailure(status: 500, code: "internal_error", message: "The turn could not be completed.",
                                      model: nil, messageID: nil)
            emitter.yield(.error(failure))
            return .failed(failure, partial: false)
        }
    }

    /// What every step of the loop reads: the conversation so far, the agent's tools and system prompt, and the
    /// output guard's runs.
    struct StepsSetup {
        let history: [ChatMessage]
        let specs: [ToolSpec]
        let system: [SystemBlock]
        let guardRuns: GuardRuns?
    }

    /// A model step that answered: its message id, when it started, the response and the output guard that read it.
    struct StepAnswer {
        let id: UUID
        let startedAt: Date
        let response: ModelResponse
        let outputGuard: OutputGuard?
    }

    enum StepResult {
        case answered(StepAnswer)
        case ended(Outcome)
    }

    @inline(never)
    func prepareSteps(_ turn: TurnContext, logger: Logger) async throws -> StepsSetup {
        var history = History.prepare(try await turn.journal.history(conversationID: turn.conversationID, limit: settings.historyMessages))
        let specs = tools.specs(turn.agent.tools)
        // `memory: auto`: what the user's memory holds closest to their message, recalled before the first step. A
        // failing recall costs the turn its memories, not its answer.
        var recollection: Recollection?
        if turn.agent.memory == .auto, !turn.prompt.isEmpty, let memory {
            do {
                recollection = try await memory.recall(user: turn.user, message: turn.prompt)
            } catch {
                logger.warning("memory recall failed", metadata: ["error_type": "\(type(of: error))"])
            }
        }
        let system = try await turn.agent.systemBlocks(for: turn.user, recollection: recollection)
        // With the output guard on, no run of the prompt's or the tool schemas' words reaches the client.
        let guardSources: [(name: String, text: String)]? = turn.agent.sanitize
            ? system.enumerated().map { ("system prompt block \($0.offset + 1)", $0.element.text) }
                + specs.map { ("tool \($0.name)", $0.description + " " + $0.parameters.jsonString) }
            : nil
        if let nudge = turn.nudge, history.last?.role != .user { history.append(.user(nudge)) }
        return StepsSetup(history: history, specs: specs, system: system,
                          guardRuns: guardSources.map { GuardRuns(sources: $0, length: settings.guardWords) })
    }

    /// Before step `after + 1`: the outcome that ends the turn instead (the iteration limit, or the budget run out
    /// mid-turn), or nil to go on.
    @inline(never)
    func admitStep(_ turn: TurnContext, after steps: Int, progress: TurnProgress, emitter: TurnEvents,
                   logger: Logger) async throws -> Outcome? {
        if steps >= turn.agent.maxIterations {
            let message = try await store(StoredMessage(
                conversationID: turn.conversationID, turnID: turn.id, role: .assistant,
                parts: [.text("I stopped before finishing: this reply reached the limit of \(turn.agent.maxIterations) tool-using steps. Ask me to continue, or narrow the request.")],
                finishReason: "iteration_limit", createdAt: clock.now, completedAt: clock.now), turn: turn)
            emitter.yield(.messageCompleted(message))
            logger.warning("turn reached the iteration limit", metadata: ["limit": "\(turn.agent.maxIterations)"])
            return .complete
        }
        guard steps > 0, let policy else { return nil }
        do {
            try await policy.admitStep(user: turn.user, used: progress.totals.withLock { $0 })
            return nil
        } catch let error as AppError {
            // The budget ran out mid-turn: what the steps so far wrote stays, and the turn ends saying why.
            let message = try await store(StoredMessage(
                conversationID: turn.conversationID, turnID: turn.id, role: .assistant, parts: [], status: .error,
                error: MessageError(code: error.code, message: error.detail ?? error.title), createdAt: clock.now, completedAt: clock.now),
                turn: turn)
            emitter.yield(.messageCompleted(message))
            let failure = TurnFailure(status: error.status, code: error.code, message: error.detail ?? error.title, model: nil, messageID: message.id)
            emitter.yield(.error(failure))
            return .failed(failure, partial: true)
        }
    }

    /// One model call, its text streamed to the client as it comes (through the output guard when it is on). A
    /// failed call stores what it got as far as it got and ends the turn.
    @inline(never)
    func modelStep(_ turn: TurnContext, request: ChatRequest, guardRuns: GuardRuns?, progress: TurnProgress,
                   emitter: TurnEvents, logger: Logger) async -> StepResult {
        let stepID = UUID.random()
        let startedAt = clock.now
        progress.begin(stepID, model: turn.model, at: startedAt)
        var assembler = ResponseAssembler()
        let outputGuard = guardRuns.map { OutputGuard(runs: $0) }
        do {
            try await router.stream(model: turn.model, request: request) { routed in
                switch routed {
                case .model(let name, let provider):
                    progress.served(by: name, provider: provider)
                case .event(.textDelta(let delta)):
                    assembler.add(.textDelta(delta))
                    // What the client sees is what is kept should the step be cut off.
                    let shown = outputGuard?.add(delta) ?? delta
                    progress.add(.textDelta(shown))
                    if !shown.isEmpty { emitter.yield(.messageDelta(messageID: stepID, delta: shown)) }
                case .event(let event):
                    assembler.add(event)
                    progress.add(event)
                }
            }
            if Task.isCancelled { return .ended(.timedOut) }
            guard assembler.finishReason != nil else {
                throw ProviderError(.interrupted, message: "The response ended early.", model: progress.model)
            }
        } catch {
            if Task.isCancelled { return .ended(.timedOut) }
            var providerError = (error as? ProviderError) ?? ProviderError(.connection, message: "\(type(of: error))")
            providerError.model = providerError.model ?? progress.model ?? turn.model
            let failure = TurnFailure(providerError, messageID: stepID)
            let partial = await storeUnfinishedStep(turn, progress: progress, failure: failure, emitter: emitter, logger: logger)
            emitter.yield(.error(failure))
            logger.warning("model step failed", metadata: ["code": "\(failure.code)", "model": "\(failure.model ?? "-")"])
            return .ended(.failed(failure, partial: partial))
        }
        return .answered(StepAnswer(id: stepID, startedAt: startedAt, response: assembler.response, outputGuard: outputGuard))
    }

    /// After a model step: its message stored, then its tool calls run (or set to wait for the user's approval) and
    /// their results added to `history`. Returns the outcome that ends the turn, or nil for another step.
    @inline(never)
    func finishStep(_ answer: StepAnswer, turn: TurnContext, history: inout [ChatMessage], guardRuns: GuardRuns?, toolContext: ToolContext,
                    progress: TurnProgress, emitter: TurnEvents, logger: Logger) async throws -> Outcome? {
        let stepID = answer.id
        var response = answer.response
        if let outputGuard = answer.outputGuard, let guardRuns {
            let rest = outputGuard.finish()
            if !rest.isEmpty { emitter.yield(.messageDelta(messageID: stepID, delta: rest)) }
            // Tool calls' arguments reach clients too: as stored messages, actions for the app, or its own tools.
            var sources = outputGuard.matches.map(\.source)
            let others = response.message.parts.compactMap { part -> Part? in
                switch part {
                case .text: return nil
                case .toolCall(var call):
                    let (arguments, found) = guardRuns.redact(call.arguments)
                    call.arguments = arguments
                    sources += found
                    return .toolCall(call)
                default: return part
                }
            }
            response.message.parts = (outputGuard.output.isEmpty ? [] : [.text(outputGuard.output)]) + others
            for source in sources {
                let total = redactions.add(1, ordering: .relaxed).newValue
                logger.warning("output guard redacted a passage of the prompt",
                               metadata: ["agent": "\(turn.agent.name)", "source": "\(source)", "redactions": "\(total)"])
            }
        }
        let served = progress.finish()
        progress.totals.withLock { $0 = $0 + response.usage }
        try await recordUsage(turn, model: served.model, usage: response.usage, logger: logger)
        let assistant = try await store(StoredMessage(
            id: stepID, conversationID: turn.conversationID, turnID: turn.id, role: .assistant,
            parts: response.message.parts, textSignature: response.message.textSignature, model: served.model,
            provider: served.provider, finishReason: response.finishReason.rawValue, usage: response.usage,
            createdAt: answer.startedAt, completedAt: clock.now), turn: turn)
        emitter.yield(.messageCompleted(assistant))
        history.append(response.message)
        if !response.message.text.isEmpty { progress.answer.withLock { $0 = (response.message.text, turn.agent.memory) } }

        let calls = response.message.toolCalls
        guard response.finishReason == .toolCalls, !calls.isEmpty else { return .complete }
        for call in calls { emitter.yield(.toolCall(messageID: stepID, call: call)) }
        let storeResult = toolResultStorer(turn, emitter: emitter, logger: logger)
        // Calls that need the user's approval wait for it, unless they would be refused anyway: then the model
        // gets the refusal at once, as for any other call.
        // A condition is a filter parsed per call: each call's need is decided once.
        let (gated, free) = calls.reduce(into: ([ToolCall](), [ToolCall]())) { split, call in
            if turn.agent.needsApproval(call) { split.0.append(call) } else { split.1.append(call) }
        }
        var waiting: [ToolCall] = []
        var refused: [ToolResult] = []
        for call in gated {
            if turn.stateless {
                let refusal = ToolResult(callID: call.id, name: call.name, content: [
                    "error": "approval_unavailable",
                    "message": "This call needs the user's approval, which this chat cannot ask for: it was not run. Tell the user what you would do instead.",
                ], isError: true)
                refused.append(refusal)
                await storeResult(refusal)
            } else if let refusal = await runner.check(call, allowed: turn.agent.tools, context: toolContext) {
                refused.append(refusal)
                await storeResult(refusal)
            } else {
                waiting.append(call)
            }
        }
        let ran = await runner.run(free, allowed: turn.agent.tools, context: toolContext, finished: storeResult)
        if Task.isCancelled { return .timedOut }
        if !waiting.isEmpty {
            let now = clock.now
            let expires = now.addingTimeInterval(Double(settings.approvalTimeout.components.seconds))
            let pending = waiting.map { call in
                ToolApproval(conversationID: turn.conversationID, userID: turn.userID, turnID: turn.id, messageID: stepID, seq: assistant.seq, call: call,
                             agent: turn.agent.name, model: turn.model, createdAt: now, expiresAt: expires)
            }
            try await approvals.insert(pending)
            for approval in pending { emitter.yield(.approvalRequired(approval)) }
            logger.info("turn awaits approval", metadata: ["tools": "\(waiting.map(\.name).joined(separator: ","))"])
            return .awaitingApproval
        }
        let results = Dictionary((refused + ran).map { ($0.callID, $0) }, uniquingKeysWith: { first, _ in first })
        history.append(ChatMessage(role: .tool, parts: calls.compactMap { results[$0.id] }.map(Part.toolResult)))
        return nil
    }

    /// Stores a tool's result as the conversation's next message and passes it to the client.
    func toolResultStorer(_ turn: TurnContext, emitter: TurnEvents, logger: Logger) -> @Sendable (ToolResult) async -> Void {
        { result in
            do {
                let message = try await self.store(StoredMessage(
                    conversationID: turn.conversationID, turnID: turn.id, role: .tool, parts: [.toolResult(result)],
                    status: .complete, createdAt: self.clock.now, completedAt: self.clock.now), turn: turn)
                emitter.yield(.toolResult(message))
            } catch {
                logger.error("could not store a tool result", metadata: ["error": "\(error)"])
            }
        }
    }
}
