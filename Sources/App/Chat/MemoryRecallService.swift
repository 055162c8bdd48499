import Agents
import Core
import Foundation

/// `memory: auto`: the user's memories closest to their message (at most `memory.recall_limit`, scoring at least
/// `memory.recall_min_score`, about 2,000 characters in all), and how many they have. A user without memories costs
/// no embedding.
struct MemoryRecallService: MemoryRecall {
    let memories: Memories
    static let maxCharacters = 2_000

    func recall(user: User, message: String) async throws -> Recollection {
        let count = try await memories.count(user: user)
        guard count > 0 else { return Recollection(count: 0, items: []) }
        let found = try await memories.search(query: String(message.prefix(memories.settings.maxTextCharacters)), vector: nil, user: user,
                                              namespace: nil, tags: [], limit: memories.settings.recallLimit,
                                              minScore: memories.settings.recallMinScore)
        var budget = Self.maxCharacters
        let items = found.prefix { hit in
            budget -= hit.memory.text.count
            return budget >= 0
        }.map { (text: $0.memory.text, score: $0.score) }
        return Recollection(count: count, items: items)
    }
}
