import API
import Agents
import Core
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func sendMessage(_ input: Operations.SendMessage.Input) async throws -> Operations.SendMessage.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let turn = try await orchestrator.start(.init(user: identity.user, conversationID: try pathID(input.path.id, "conversation"),
                                                      content: body.content, agent: body.agent, model: body.model))
        let accepted = input.headers.accept.map(\.contentType)
        switch try await answer(turn, streaming: Self.streaming(body.stream, eventStream: accepted.contains(.textEventStream),
                                                                 json: accepted.contains(.json))) {
        case .stream(let events): return .ok(.init(body: .textEventStream(events)))
        case .json(let result): return .ok(.init(body: .json(result)))
        }
    }

    func listApprovals(_ input: Operations.ListApprovals.Input) async throws -> Operations.ListApprovals.Output {
        let identity = try RequestScope.requireIdentity()
        let approvals = try await orchestrator.approvals(conversationID: try pathID(input.path.id, "conversation"), userID: identity.user.id)
        let now = clock.now
        return .ok(.init(body: .json(.init(items: approvals.map { .init($0, now: now) }))))
    }

    func decideApproval(_ input: Operations.DecideApproval.Input) async throws -> Operations.DecideApproval.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let conversationID = try pathID(input.path.id, "conversation")
        let decision = Orchestrator.Decision(
            user: identity.user, conversationID: conversationID, approvalID: try pathID(input.path.approvalId, "approval"),
            kind: Orchestrator.Decision.Kind(rawValue: body.decision.rawValue) ?? .reject,
            arguments: body.arguments?.json, reason: body.reason)
        switch try await orchestrator.decide(decision) {
        case .waiting(let approval, let pending):
            let now = clock.now
            return .accepted(.init(body: .json(.init(approval: .init(approval, now: now), pending: pending.map { .init($0, now: now) }))))
        case .resumed(let turn):
            let accepted = input.headers.accept.map(\.contentType)
            switch try await answer(turn, streaming: Self.streaming(body.stream, eventStream: accepted.contains(.textEventStream),
                                                                     json: accepted.contains(.json))) {
            case .stream(let events): return .ok(.init(body: .textEventStream(events)))
            case .json(let result): return .ok(.init(body: .json(result)))
            }
        }
    }

    /// The generated code reads a missing Accept header as "everything": stream only when asked to.
    static func streaming(_ asked: Bool?, eventStream: Bool, json: Bool) -> Bool {
        asked ?? (eventStream && !json)
    }

    enum TurnAnswer {
        case stream(HTTPBody)
        case json(Components.Schemas.TurnResult)
    }

    /// A running turn as the client asked for it: its events as they come, or collected into one answer when it is
    /// over. A failed turn answers the problem (what was produced is stored all the same).
    func answer(_ turn: Orchestrator.Turn, streaming: Bool) async throws -> TurnAnswer {
        if streaming {
            return .stream(DirectTurns.streamed(turn))
        }
        let collected = try await CollectedTurn.collect(turn)
        return .json(.init(turnId: turn.id.lowercased, conversationId: turn.conversationID.lowercased,
                           status: .init(rawValue: collected.status) ?? .incomplete, message: .init(collected.final),
                           messages: collected.messages.map(Components.Schemas.Message.init),
                           approvals: collected.approvals.isEmpty ? nil : collected.approvals.map { .init($0, now: $0.createdAt) },
                           usage: .init(collected.summary.usage)))
    }

    func listAgents(_ input: Operations.ListAgents.Input) async throws -> Operations.ListAgents.Output {
        _ = try RequestScope.requireIdentity()
        let agents = orchestrator.agents.values.map { agent in
            Components.Schemas.Agent(name: agent.name, description: agent.description,
                                     model: agent.model ?? orchestrator.router.defaultModel, tools: agent.tools,
                                     _default: agent.name == orchestrator.defaultAgent)
        }
        // Routers and pipelines are addressed as agents are; their tools are their agents'.
        let flows = orchestrator.flows.values.map { flow in
            Components.Schemas.Agent(name: flow.name, description: flow.description, model: orchestrator.router.defaultModel,
                                     tools: [], _default: flow.name == orchestrator.defaultAgent)
        }
        let items = (agents + flows).sorted { $0.name < $1.name }
        return .ok(.init(body: .json(.init(items: items))))
    }

    func listModels(_ input: Operations.ListModels.Input) async throws -> Operations.ListModels.Output {
        _ = try RequestScope.requireIdentity()
        let items = orchestrator.router.models.values.map(\.config).sorted { $0.name < $1.name }.map { config in
            Components.Schemas.ModelInfo(name: config.name, provider: .init(rawValue: config.provider.rawValue) ?? .mock,
                                         fallbacks: config.fallbacks, _default: config.name == orchestrator.router.defaultModel)
        }
        return .ok(.init(body: .json(.init(items: items))))
    }
}
