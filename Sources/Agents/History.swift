import Core
import LLM

/// What the model is shown of a conversation: its stored messages, made valid for every provider.
enum History {
    /// Drops what a provider would refuse: tool calls whose results were never stored (a turn cut off while tools
    /// ran), results without their call, empty messages. Results follow their assistant message in the order of its
    /// calls. The window starts at a user message. (Failed steps are not even read: see `ConversationStore.history`.)
    /// A message kept as it is stays the same value, with the form a provider's request wrote it in on an earlier
    /// turn (`WireForm`): only a message that has to change is made anew.
    static func prepare(_ messages: [ChatMessage]) -> [ChatMessage] {
        guard var index = messages.firstIndex(where: { $0.role == .user }) else { return [] }
        var prepared: [ChatMessage] = []
        prepared.reserveCapacity(messages.count - index)
        while index < messages.count {
            var message = messages[index]
            index += 1
            switch message.role {
            case .user:
                if !message.parts.isEmpty { prepared.append(message) }
            case .tool:
                continue // only kept right after the call that asked for it, below
            case .assistant:
                let firstResults = index
                while index < messages.count, messages[index].role == .tool { index += 1 }
                let calls = message.toolCalls
                if index == firstResults + 1, answers(messages[firstResults], inOrder: calls) {
                    // Nearly always: one tool message answering every call of the step, in order.
                    prepared.append(message)
                    prepared.append(messages[firstResults])
                    continue
                }
                var results: [String: ToolResult] = [:]
                for tool in messages[firstResults..<index] {
                    for result in tool.toolResults { results[result.callID] = result }
                }
                if calls.contains(where: { results[$0.id] == nil }) {
                    message.parts = message.parts.filter { part in
                        if case .toolCall(let call) = part { return results[call.id] != nil }
                        return true
                    }
                }
                guard !message.parts.isEmpty else { continue }
                prepared.append(message)
                let answered = calls.compactMap { results[$0.id] }
                if !answered.isEmpty { prepared.append(ChatMessage(role: .tool, parts: answered.map(Part.toolResult))) }
            }
        }
        return prepared
    }

    /// Whether `tool` holds a result for each of `calls` and nothing else, in their order, each call's id once (with
    /// an id repeated, the last result for it answers every call with it, as the general path decides).
    private static func answers(_ tool: ChatMessage, inOrder calls: [ToolCall]) -> Bool {
        guard !calls.isEmpty, tool.parts.count == calls.count, tool.textSignature == nil else { return false }
        for (position, part) in tool.parts.enumerated() {
            guard case .toolResult(let result) = part, result.callID == calls[position].id else { return false }
            if calls[..<position].contains(where: { $0.id == result.callID }) { return false }
        }
        return true
    }
}
