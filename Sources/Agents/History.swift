import Core
import LLM

/// What the model is shown of a conversation: its stored messages, made valid for every provider.
enum History {
    /// Drops what a provider would refuse: tool calls whose results were never stored (a turn cut off while tools
    /// ran), results without their call, empty messages. Results follow their assistant message in the order of its
    /// calls. The window starts at a user message. (Failed steps are not even read: see `ConversationStore.history`.)
    static func prepare(_ stored: [ChatMessage]) -> [ChatMessage] {
        var messages = stored
        if let start = messages.firstIndex(where: { $0.role == .user }) { messages.removeFirst(start) } else { return [] }

        var prepared: [ChatMessage] = []
        var index = 0
        while index < messages.count {
            var message = messages[index]
            index += 1
            switch message.role {
            case .user:
                if !message.parts.isEmpty { prepared.append(message) }
            case .tool:
                continue // only kept right after the call that asked for it, below
            case .assistant:
                var results: [String: ToolResult] = [:]
                while index < messages.count, messages[index].role == .tool {
                    for result in messages[index].toolResults { results[result.callID] = result }
                    index += 1
                }
                message.parts = message.parts.filter { part in
                    if case .toolCall(let call) = part { return results[call.id] != nil }
                    return true
                }
                guard !message.parts.isEmpty else { continue }
                prepared.append(message)
                let answered = message.toolCalls.compactMap { results[$0.id] }
                if !answered.isEmpty { prepared.append(ChatMessage(role: .tool, parts: answered.map(Part.toolResult))) }
            }
        }
        return prepared
    }
}
