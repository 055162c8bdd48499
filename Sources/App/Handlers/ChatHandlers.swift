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
        // The generated code reads a missing Accept header as "everything": stream only when asked to.
        let accepted = input.headers.accept.map(\.contentType)
        let streaming = body.stream ?? (accepted.contains(.textEventStream) && !accepted.contains(.json))
        if streaming {
            return .ok(.init(body: .textEventStream(HTTPBody(EventStream.serverSentEvents(turn.events), length: .unknown,
                                                             iterationBehavior: .single))))
        }
        // Collected into one answer; a failed turn answers the problem (what was produced is stored all the same).
        var messages: [Components.Schemas.Message] = []
        var failure: TurnFailure?
        var summary: TurnSummary?
        for await event in turn.events {
            switch event {
            case .messageCompleted(let message), .toolResult(let message): messages.append(.init(message))
            case .error(let error): failure = error
            case .done(let done): summary = done
            case .messageDelta, .toolCall: continue
            }
        }
        if let failure { throw failure.appError }
        guard let summary, let final = messages.last(where: { $0.role == .assistant }) else {
            throw AppError(status: 500, code: "internal_error", title: "Internal server error", detail: "The turn ended without an answer.")
        }
        return .ok(.init(body: .json(.init(turnId: turn.id.lowercased, conversationId: turn.conversationID.lowercased,
                                           status: summary.status == .complete ? .complete : .incomplete, message: final,
                                           messages: messages, usage: .init(summary.usage)))))
    }

    func listAgents(_ input: Operations.ListAgents.Input) async throws -> Operations.ListAgents.Output {
        _ = try RequestScope.requireIdentity()
        let items = orchestrator.agents.values.sorted { $0.name < $1.name }.map { agent in
            Components.Schemas.Agent(name: agent.name, description: agent.description,
                                     model: agent.model ?? orchestrator.router.defaultModel, tools: agent.tools,
                                     _default: agent.name == orchestrator.defaultAgent)
        }
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
