import LLM

/// What a conversation's model was last shown, as `ConversationStore.history` keeps it between turns.
struct RecentHistory: Sendable {
    /// The conversation's last place (`seq`) when this was read: every message after it is new.
    let lastSeq: Int64
    /// How many messages were asked for: a read asking for another number starts again.
    let limit: Int
    /// Oldest first, each with its weight for the cache's budget: twice its stored parts' bytes (the parts, and the
    /// request entries a provider writes of them, which it keeps: about as long) and `overheadBytes`.
    let messages: [(message: ChatMessage, bytes: Int)]

    /// A message's fixed cost in memory besides its parts: the value, its array and its strings' headers.
    static let overheadBytes = 128
}
