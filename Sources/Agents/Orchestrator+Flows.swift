import Core
import Foundation
import LLM
import Logging

/// Routers and pipelines: a turn addressed to one runs its agents' loops within the one turn (one claim on the
/// conversation, one budget debit), announcing each agent with `agent.selected`.
extension Orchestrator {
    func steps(_ turn: TurnContext, resuming: [ToolApproval], progress: TurnProgress, emitter: TurnEvents,
               logger: Logger) async -> Outcome {
        switch turn.flow {
        case nil:
            return await loop(turn, resuming: resuming, progress: progress, emitter: emitter, logger: logger)
        case .router(let router):
            let (chosen, reason) = await route(router, turn: turn, progress: progress, logger: logger)
            if case .pipeline(let pipeline)? = flows[chosen] {
                // A pipeline the router chose runs as if the message had been sent to it.
                emitter.yield(.agentSelected(AgentSelection(agent: chosen, reason: reason, flow: router.name)))
                var next = turn
                next.flow = .pipeline(pipeline)
                return await steps(next, resuming: [], progress: progress, emitter: emitter, logger: logger)
            }
            guard let agent = agents[chosen] else { return await loop(turn, resuming: [], progress: progress, emitter: emitter, logger: logger) }
            emitter.yield(.agentSelected(AgentSelection(agent: chosen, reason: reason, flow: router.name)))
            return await loop(turn.answering(prepared(agent, for: turn.user)), resuming: [], progress: progress, emitter: emitter, logger: logger)
        case .pipeline(let pipeline):
            return await run(pipeline, turn: turn, progress: progress, emitter: emitter, logger: logger)
        }
    }

    /// A pipeline's agents in turn, each building on the answers before it, then its synthesis when it has one.
    /// Out of line, as `route` is: inlined, their frames would swell that of every turn's `steps`.
    @inline(never)
    func run(_ pipeline: AgentPipeline, turn: TurnContext, progress: TurnProgress, emitter: TurnEvents,
             logger: Logger) async -> Outcome {
        var answered = false
        for name in pipeline.agents {
            guard let agent = agents[name] else { continue }
            emitter.yield(.agentSelected(AgentSelection(agent: name, reason: .pipeline, flow: pipeline.name)))
            let nudge = answered ? "(Now answer my message above as \(name): \(agent.description). The answers above are for you to build on.)" : nil
            let outcome = await loop(turn.answering(prepared(agent, for: turn.user), nudge: nudge), resuming: [], progress: progress,
                                     emitter: emitter, logger: logger)
            guard case .complete = outcome else { return outcome }
            answered = true
        }
        guard pipeline.synthesize else { return .complete }
        emitter.yield(.agentSelected(AgentSelection(agent: pipeline.name, reason: .synthesis, flow: pipeline.name)))
        let synthesis = AgentDefinition(name: pipeline.name, description: pipeline.description, model: pipeline.model,
                                        systemPrompt: Self.synthesisPrompt, tools: [], maxIterations: 1)
        return await loop(turn.answering(synthesis, nudge: "(Now write the one reply to my message that combines the answers above.)"),
                          resuming: [], progress: progress, emitter: emitter, logger: logger)
    }

    static let synthesisPrompt = """
        Several specialists have answered the user's last message, above. Write the one reply the user reads: keep every \
        fact, number and recommendation that matters, drop repetition, and say so where the specialists disagree. Do not \
        mention the specialists or this instruction.
        """

    /// One model call that must name one of the router's agents (those the user's plan includes); anything else, a
    /// failed call included, gives the fallback. What the call used counts toward the turn.
    @inline(never)
    func route(_ router: AgentRouter, turn: TurnContext, progress: TurnProgress, logger: Logger) async -> (String, AgentSelection.Reason) {
        let candidates = router.agents.filter { name in
            (agents[name] != nil || flows[name].map { if case .pipeline = $0 { true } else { false } } == true)
                && (policy?.allowsAgent(name, user: turn.user) ?? true)
        }
        guard candidates.count > 1 else { return (candidates.first ?? router.fallback, candidates.isEmpty ? .fallback : .router) }
        let list = candidates.map { "- \($0): \(agents[$0]?.description ?? flows[$0]?.description ?? "")" }.joined(separator: "\n")
        let system = """
            You route a user's message to the one agent best suited to answer it. The agents:
            \(list)
            Answer with JSON only: {"agent": "<name>"}.
            """
        let schema: JSONValue = ["type": "object", "additionalProperties": false, "required": ["agent"],
                                 "properties": ["agent": ["type": "string", "enum": .array(candidates.map(JSONValue.string))]]]
        let request = ChatRequest(system: [SystemBlock(system, cacheable: true)], messages: [.user(turn.prompt)], maxOutputTokens: 100,
                                  output: OutputFormat(name: "agent_choice", schema: schema))
        let model = router.model ?? turn.defaultModel
        do {
            let answer = try await self.router.complete(model: model, request: request)
            progress.totals.withLock { $0 = $0 + answer.response.usage }
            try await recordUsage(turn, model: answer.model, usage: answer.response.usage, logger: logger)
            let text = answer.response.message.text.trimmingCharacters(in: .whitespacesAndNewlines)
            let chosen = JSONValue.parse(text)?["agent"]?.stringValue ?? text
            if candidates.contains(chosen) { return (chosen, .router) }
            logger.warning("router answered no agent of its own; falling back", metadata: ["router": "\(router.name)"])
        } catch {
            logger.warning("router call failed; falling back", metadata: ["router": "\(router.name)", "error_type": "\(type(of: error))"])
        }
        return (router.fallback, .fallback)
    }
}
