import Synchronization

/// A message or a tool as a provider's request writes it, kept with the value: a conversation's history and the
/// agent's tools are sent whole at every model call of every turn, and writing them afresh each time was a quarter
/// of a tool turn's instructions (each tool result turned into JSON text and escaped, each call's arguments likewise,
/// for up to 100 messages, twice a tool turn). A value's copies share one (`ConversationStore.history` keeps a
/// conversation's messages between turns, `ToolRegistry` its specs); a change to what the value says gives it a new,
/// empty one (the `didSet`s of `ChatMessage` and `ToolSpec`). It is no part of what the value says: every form is
/// equal to every other and hashes to nothing, so the values' own equality and hashing stay their contents'.
final class WireForm: Sendable, Hashable {
    enum Format: Sendable, Equatable {
        /// OpenAI Chat Completions: a message's `messages` entries, comma-separated (a tool message is an entry a
        /// result), or a tool's `tools` entry.
        case openAIChat
    }

    /// One form: a value is sent to one provider nearly always, and looking one up by format in a dictionary cost
    /// as much as copying it (hashing the key, for each of a request's messages).
    private let held = Mutex<(format: Format, bytes: [UInt8])?>(nil)

    init() {}

    static func == (lhs: WireForm, rhs: WireForm) -> Bool { true }

    func hash(into hasher: inout Hasher) {}

    /// The value in `format`, written by `encode` unless it is held in that format. Two turns of one conversation
    /// asking at once may both write it: the same bytes, so either may stay.
    func bytes(_ format: Format, encode: () -> [UInt8]) -> [UInt8] {
        if let form = held.withLock({ $0 }), form.format == format { return form.bytes }
        let bytes = encode()
        held.withLock { $0 = (format, bytes) }
        return bytes
    }
}
