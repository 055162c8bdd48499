import API
import Core
import Foundation
import LLM
import OpenAPIRuntime

extension Components.Schemas.Memory {
    init(_ memory: Memory, duplicate: Bool? = nil) {
        self.init(id: memory.id.lowercased, namespace: memory.namespace, text: memory.text, tags: memory.tags,
                  metadata: memory.metadata.objectContainer, embeddingModel: memory.model, dimensions: memory.dimensions,
                  duplicate: duplicate, createdAt: memory.createdAt, updatedAt: memory.updatedAt)
    }
}

extension APIHandler {
    func listMemories(_ input: Operations.ListMemories.Input) async throws -> Operations.ListMemories.Output {
        let identity = try RequestScope.requireIdentity()
        let tags = (input.query.tags ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let page = try await memories.list(user: identity.user, namespace: input.query.namespace, tags: tags,
                                           page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(items: page.items.map { .init($0) }, total: page.total, page: page.page, perPage: page.perPage))))
    }

    func createMemory(_ input: Operations.CreateMemory.Input) async throws -> Operations.CreateMemory.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let (memory, duplicate) = try await memories.save(.init(text: body.text, namespace: body.namespace, tags: body.tags,
                                                               metadata: body.metadata?.json), user: identity.user)
        let representation = Components.Schemas.Memory(memory, duplicate: duplicate)
        return duplicate ? .ok(.init(body: .json(representation))) : .created(.init(body: .json(representation)))
    }

    func forgetMemories(_ input: Operations.ForgetMemories.Input) async throws -> Operations.ForgetMemories.Output {
        let identity = try RequestScope.requireIdentity()
        let deleted = try await memories.forget(namespace: input.query.namespace, user: identity.user)
        return .ok(.init(body: .json(.init(deleted: deleted))))
    }

    func searchMemories(_ input: Operations.SearchMemories.Input) async throws -> Operations.SearchMemories.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let found = try await memories.search(query: body.query, vector: body.vector?.map { Float($0) }, user: identity.user,
                                              namespace: body.namespace, tags: body.tags ?? [], limit: body.limit ?? 10,
                                              minScore: body.minScore.map { Float($0) })
        return .ok(.init(body: .json(.init(items: found.map { .init(memory: .init($0.memory), score: Double($0.score)) }))))
    }

    func getMemory(_ input: Operations.GetMemory.Input) async throws -> Operations.GetMemory.Output {
        let identity = try RequestScope.requireIdentity()
        return .ok(.init(body: .json(.init(try await memories.find(id: try pathID(input.path.id, "memory"), user: identity.user)))))
    }

    func updateMemory(_ input: Operations.UpdateMemory.Input) async throws -> Operations.UpdateMemory.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let memory = try await memories.update(id: try pathID(input.path.id, "memory"), user: identity.user, text: body.text, tags: body.tags,
                                               metadata: body.metadata?.json)
        return .ok(.init(body: .json(.init(memory))))
    }

    func deleteMemory(_ input: Operations.DeleteMemory.Input) async throws -> Operations.DeleteMemory.Output {
        let identity = try RequestScope.requireIdentity()
        try await memories.delete(id: try pathID(input.path.id, "memory"), user: identity.user)
        return .noContent(.init())
    }
}
