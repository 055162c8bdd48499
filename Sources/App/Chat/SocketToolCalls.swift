import Agents
import Foundation
import LLM
import Synchronization

/// Tool calls a chat WebSocket's client runs itself: each is sent as a `tool.request` frame
/// (`{request_id, name, arguments}`) and waits for the client's `{"type": "tool.result", "request_id", "result",
/// "is_error"?}` frame. The tool's timeout bounds the wait (the runner cancels it); when the socket ends, what still
/// waits fails at once. At most `maxPending` wait at a time.
final class SocketToolCalls: ClientToolChannel {
    typealias Waiting = CheckedContinuation<JSONValue, any Error>
    static let maxPending = 16
    private let state = Mutex<(calls: [String: Waiting], closed: Bool)>(([:], false))
    private let send: @Sendable (String) -> Void

    init(send: @escaping @Sendable (String) -> Void) {
        self.send = send
    }

    func run(tool: String, arguments: JSONValue) async throws -> JSONValue {
        let id = UUID.random().lowercased
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiting) in
                let refusal: (any Error)? = state.withLock { state in
                    if Task.isCancelled { return CancellationError() }
                    if state.closed { return ToolError("The app disconnected: this tool runs in the app and cannot run now.") }
                    if state.calls.count >= Self.maxPending { return ToolError("The app has \(Self.maxPending) tool calls to answer already.") }
                    state.calls[id] = continuation
                    return nil
                }
                if let refusal { return continuation.resume(throwing: refusal) }
                send(JSONValue.object(["event": "tool.request", "id": 0,
                                       "data": ["request_id": .string(id), "name": .string(tool), "arguments": arguments]]).jsonString)
            }
        } onCancel: {
            state.withLock { $0.calls.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    /// Hands the client's `tool.result` frame to the call waiting for it; false when none waits under its id.
    func deliver(_ frame: JSONValue) -> Bool {
        guard let id = frame["request_id"]?.stringValue, let waiting = state.withLock({ $0.calls.removeValue(forKey: id) }) else { return false }
        let result = frame["result"] ?? .null
        if frame["is_error"]?.boolValue == true {
            waiting.resume(throwing: ToolError("The app could not run the tool: " + String((result.stringValue ?? result.jsonString).prefix(2_000))))
        } else {
            waiting.resume(returning: result)
        }
        return true
    }

    /// The socket ended: nothing more will be answered.
    func close() {
        let waiting = state.withLock { state in
            state.closed = true
            defer { state.calls = [:] }
            return Array(state.calls.values)
        }
        for call in waiting { call.resume(throwing: ToolError("The app disconnected before answering.")) }
    }
}
