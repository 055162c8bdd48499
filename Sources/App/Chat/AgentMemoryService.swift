import Agents
import Core
import Foundation
import LLM

/// The platform's memory for agents. `memory: auto` recalls the user's memories closest to their message (at most
/// `memory.recall_limit`, scoring at least `memory.recall_min_score`, about 2,000 characters in all) and how many
/// they have; a user without memories costs no embedding. Extracted facts go to the `facts` namespace, tagged
/// `extracted`; kept exchanges to `exchanges`, tagged `exchange`.
struct AgentMemoryService: AgentMemory {
    let memories: Memories
    static let maxCharacters = 2_000
    static let factsNamespace = "facts"

    var extractsFacts: Bool { memories.settings.extract }
    var keepsExchanges: Bool { memories.settings.exchanges }
    static let exchangesNamespace = "exchanges"

    func remember(exchange: String, user: User, source: JSONValue) async throws {
        _ = try await memories.save([Memories.Draft(text: exchange, namespace: Self.exchangesNamespace, tags: ["exchange"], metadata: source)],
                                    user: user)
    }

    func remember(facts: [String], user: User, source: JSONValue) async throws -> Int {
        let drafts = facts.map { Memories.Draft(text: $0, namespace: Self.factsNamespace, tags: ["extracted"], metadata: source) }
        return try await memories.save(drafts, user: user).filter { !$0.duplicate }.count
    }

    func recall(user: User, message: String) async throws -> Recollection {
        let (count, found) = try await memories.recall(user: user, query: message, limit: memories.settings.recallLimit,
                                                       minScore: memories.settings.recallMinScore)
        var budget = Self.maxCharacters
        let items = found.prefix { hit in
            budget -= hit.memory.text.count
            return budget >= 0
        }.map { (text: $0.memory.text, score: $0.score) }
        return Recollection(count: count, items: items)
    }
}
