import Core
import Foundation
import LLM
import Logging

/// Plan mode: instead of answering, one model call writes a plan for the app to run (a blueprint's `plans:`). It is
/// a stateless turn of its own: nothing of it is stored, the user's plan and budget admit it, a router first picks
/// the agent the plan is for, and what the calls used is recorded and debited like a turn's.
extension Orchestrator {
    /// What the planner needs to know about the agent a plan is for.
    public struct PlanTarget: Sendable {
        public let agent: String
        public let description: String
        /// The tools the agent may use, as the user's plan lets it run.
        public let tools: [String]
    }

    /// The planner's answer: its text (the caller parses and checks it) and the agent it is for.
    public struct PlanAnswer: Sendable {
        public let agent: String
        public let text: String
        public let usage: Usage
    }

    /// Picks the agent (the router's call when `request.agent` is a router), then makes one call with the system
    /// prompt and output format `instructions` writes for that agent. Throws what a stateless turn throws before it
    /// starts (field errors, 403, 402, 429), or the provider's error.
    public func plan(_ request: TurnRequest, model: String?, logger: Logger,
                     instructions: @Sendable (PlanTarget) -> (system: String, format: OutputFormat)) async throws -> PlanAnswer {
        let (content, appContext) = try validate(request)
        guard running.claimStateless(user: request.userID, max: settings.maxConcurrentTurnsPerUser) else { throw tooManyTurns }
        defer { running.releaseStateless(user: request.userID) }
        let name = request.agent ?? defaultAgent
        let flow = flows[name]
        var agent = try await admitted(name, flow: flow, user: request.user)
        var turn = TurnContext(id: UUID.random(), conversationID: request.conversationID, user: request.user, agent: agent, requestedModel: request.model,
                               defaultModel: router.defaultModel, journal: EphemeralJournal(), flow: flow, prompt: content,
                               requestContext: request.context, client: nil)
        let progress = TurnProgress()
        var target = PlanTarget(agent: agent.name, description: agent.description, tools: agent.tools)
        var planned = flow
        if case .router(let flowRouter)? = flow {
            let (chosen, _) = await route(flowRouter, turn: turn, progress: progress, logger: logger)
            planned = flows[chosen]
            if let picked = agents[chosen] {
                agent = prepared(picked, for: request.user)
                turn = turn.answering(agent)
            }
            target = PlanTarget(agent: agent.name, description: agent.description, tools: agent.tools)
        }
        switch planned {
        case .router?:
            break
        case .pipeline(let pipeline)?:
            // A pipeline's plan may use what any of its agents may.
            let members = pipeline.agents.compactMap { agents[$0].map { prepared($0, for: request.user) } }
            target = PlanTarget(agent: pipeline.name, description: pipeline.description,
                                tools: Array(Set(members.flatMap(\.tools))).sorted())
        case nil:
            break
        }
        let written = instructions(target)
        let call = ChatRequest(system: [SystemBlock(written.system, cacheable: true)], messages: [.user(content + appContext)],
                               maxOutputTokens: 2_000, output: written.format)
        do {
            try await policy?.admitStep(user: request.user, used: progress.totals.withLock { $0 })
            let reply = try await router.complete(model: request.model ?? model ?? turn.model, request: call)
            progress.totals.withLock { $0 = $0 + reply.response.usage }
            try await recordUsage(turn, model: reply.model, usage: reply.response.usage, logger: logger)
            try await policy?.debit(turnID: turn.id, user: request.user, usage: progress.totals.withLock { $0 })
            return PlanAnswer(agent: target.agent, text: reply.response.message.text, usage: progress.totals.withLock { $0 })
        } catch {
            // The routing call, if any, was used all the same.
            let used = progress.totals.withLock { $0 }
            if used != .zero { try? await policy?.debit(turnID: turn.id, user: request.user, usage: used) }
            if let failed = error as? ProviderError { throw TurnFailure(failed, messageID: nil).appError }
            throw error
        }
    }
}
