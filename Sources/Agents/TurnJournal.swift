import Core
import Foundation
import LLM
import Synchronization

/// Where a turn's messages are written and its history read: the conversation's store, or, for a stateless turn,
/// a journal in memory that ends with the turn.
public protocol TurnJournal: Sendable {
    func append(_ message: StoredMessage, userID: UUID) async throws -> StoredMessage
    /// The latest `limit` messages the model is shown, oldest first.
    func history(conversationID: UUID, limit: Int) async throws -> [ChatMessage]
}

extension ConversationStore: TurnJournal {}

/// A stateless turn's messages, held for the turn only: nothing of them is written anywhere. Starts empty: what
/// the app sends along reaches the model as the message's context.
final class EphemeralJournal: TurnJournal {
    private let messages = Mutex<[StoredMessage]>([])

    func append(_ message: StoredMessage, userID: UUID) async throws -> StoredMessage {
        messages.withLock { messages in
            var stored = message
            stored.seq = messages.count + 1
            messages.append(stored)
            return stored
        }
    }

    func history(conversationID: UUID, limit: Int) async throws -> [ChatMessage] {
        messages.withLock { messages in
            messages.filter { $0.status != .error }.suffix(limit).map { ChatMessage(role: $0.role, parts: $0.parts, textSignature: $0.textSignature) }
        }
    }
}
