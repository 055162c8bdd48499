@testable import Core
import Foundation
import LLM
import Testing

/// The history a turn shows its model is kept between turns (`ConversationStore.history` reads only what is new):
/// these hold it to what a store that never read the conversation finds, on both engines.
@Suite("Conversation history kept between turns")
struct HistoryTests {
    @Test("However the conversation grows, through this store or another on the same database, the kept history is a fresh read's")
    func sameAsFreshRead() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let conversationID = try #require(UUID(uuidString: id)), userID = try #require(UUID(uuidString: user.userID))
            let reader = ConversationStore(db: app.server.database)
            // Another process's store: what it writes reaches the reader through the database only.
            let writer = ConversationStore(db: app.server.database)
            func fresh(_ limit: Int) async throws -> [ChatMessage] {
                try await ConversationStore(db: app.server.database).history(conversationID: conversationID, limit: limit)
            }
            var written = 0
            #expect(try await reader.history(conversationID: conversationID, limit: 5).isEmpty)
            // Failed steps are never shown; more new messages than the limit at once replace all that was kept.
            for (count, status) in [(1, MessageStatus.complete), (3, .complete), (2, .error), (1, .complete), (9, .complete), (0, .complete),
                                    (2, .complete)] {
                for _ in 0..<count {
                    written += 1
                    _ = try await writer.append(StoredMessage(conversationID: conversationID, turnID: UUID(), role: written % 2 == 1 ? .user : .assistant,
                                                              parts: [.text("message \(written)")], status: status, createdAt: Date()),
                                                userID: userID)
                }
                let kept = try await reader.history(conversationID: conversationID, limit: 5)
                #expect(kept == (try await fresh(5)), "after \(written) messages")
                #expect(reader.recent.value(for: conversationID)?.lastSeq == Int64(written), "the read reaches the conversation's last place")
            }
            #expect(try await reader.history(conversationID: conversationID, limit: 5).map(\.text) == (14...18).map { "message \($0)" })
            // A read asking for another number of messages starts again.
            #expect(try await reader.history(conversationID: conversationID, limit: 3) == (try await fresh(3)))
            #expect(try await reader.history(conversationID: conversationID, limit: 50).count == 16, "18 written, 2 failed")

            // Deleted through the API (the server's own store): the reader shows nothing and keeps nothing.
            #expect(try await app.request(.delete, "/api/v1/conversations/\(id)", token: user.access).status == 204)
            #expect(try await reader.history(conversationID: conversationID, limit: 50).isEmpty)
            #expect(reader.recent.value(for: conversationID) == nil)
        }
    }

    @Test("Kept histories stay within their budget, the least recently used going first")
    func budget() {
        let cache = BudgetCache<Int, String>(budgetBytes: 100)
        cache.store("a", bytes: 40, for: 1)
        cache.store("b", bytes: 40, for: 2)
        #expect(cache.value(for: 1) == "a", "1 is now the more recently used")
        cache.store("c", bytes: 40, for: 3)
        #expect(cache.value(for: 2) == nil && cache.value(for: 1) == "a" && cache.value(for: 3) == "c")
        #expect(cache.residentBytes == 80)
        cache.store("kept", bytes: 10, for: 1, unless: { $0 == "a" })
        #expect(cache.value(for: 1) == "a", "what the caller prefers is kept")
        #expect(cache.value(for: 1, where: { $0 == "b" }) == nil, "only what the caller accepts is handed out")
        cache.store("alone", bytes: 500, for: 4)
        #expect(cache.value(for: 4) == "alone" && cache.residentBytes == 500, "the one just stored stays, even over budget")
        cache.remove(4)
        #expect(cache.residentBytes == 0)
    }
}
