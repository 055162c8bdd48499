import API
import Core
import Foundation

extension APIHandler {
    func listConversations(_ input: Operations.ListConversations.Input) async throws -> Operations.ListConversations.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await conversations.list(userID: identity.user.id, query: input.query.q,
                                                page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(items: page.items.map(Components.Schemas.Conversation.init), total: page.total,
                                           page: page.page, perPage: page.perPage))))
    }

    func createConversation(_ input: Operations.CreateConversation.Input) async throws -> Operations.CreateConversation.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        try await quotas.admitStorage(user: identity.user)
        let conversation = try await conversations.create(userID: identity.user.id, title: body.title, agent: body.agent,
                                                          metadata: body.metadata?.json)
        return .created(.init(body: .json(.init(conversation))))
    }

    func getConversation(_ input: Operations.GetConversation.Input) async throws -> Operations.GetConversation.Output {
        let identity = try RequestScope.requireIdentity()
        let id = try pathID(input.path.id, "conversation")
        var body = Components.Schemas.Conversation(try await conversations.get(id, userID: identity.user.id))
        if input.query.include == .messages {
            // The conversation is the caller's (just read), and the store reads only the caller's messages.
            body.messages = try await conversations.store.latestMessages(conversationID: id, userID: identity.user.id, limit: PageRequest.maxPerPage)
                .map(Components.Schemas.Message.init)
        }
        return .ok(.init(body: .json(body)))
    }

    func updateConversation(_ input: Operations.UpdateConversation.Input) async throws -> Operations.UpdateConversation.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let conversation = try await conversations.update(try pathID(input.path.id, "conversation"), userID: identity.user.id,
                                                          title: body.title, agent: body.agent, metadata: body.metadata?.json)
        return .ok(.init(body: .json(.init(conversation))))
    }

    func deleteConversation(_ input: Operations.DeleteConversation.Input) async throws -> Operations.DeleteConversation.Output {
        let identity = try RequestScope.requireIdentity()
        try await conversations.delete(try pathID(input.path.id, "conversation"), userID: identity.user.id)
        return .noContent(.init())
    }

    func listMessages(_ input: Operations.ListMessages.Input) async throws -> Operations.ListMessages.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await conversations.messages(try pathID(input.path.id, "conversation"), userID: identity.user.id,
                                                    page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(items: page.items.map(Components.Schemas.Message.init), total: page.total,
                                           page: page.page, perPage: page.perPage))))
    }
}
