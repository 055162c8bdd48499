import Agents
import Blueprints
import Core
import Foundation
import LLM

/// A blueprint's client tool (`client_tools:`): nothing on the server is read or written. A context tool answers
/// with its part of what the app sent with the message; an action tool answers that its action is queued, and the
/// action (`{type, table, agent, data}`, the call's arguments as `data`) reaches the app in the chat route's
/// `actions`, to apply on its side; a tool the app runs is sent to it over the chat WebSocket.
struct ClientTool: Tool {
    let spec: ClientToolSpec

    var name: String { spec.name }
    var description: String { spec.description }
    var parameters: JSONValue { spec.parameters }

    func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        switch spec.source {
        case .context(let path):
            let value = path.reduce(context.requestContext ?? .null) { $0[$1] ?? .null }
            guard value != .null else {
                // An app connected by the chat WebSocket may answer what it did not send along.
                if let client = context.client { return try await client.run(tool: name, arguments: arguments) }
                return ["found": false, "note": .string("The app sent no \(path.joined(separator: ".")) with this message.")]
            }
            return ["found": true, "data": value]
        case .action(let type, let table, let agent):
            // Every field is present (null where the tool names none), as the app's PlanAction has them.
            let action: JSONValue = ["type": .string(type), "table": table.map(JSONValue.string) ?? .null, "agent": agent.map(JSONValue.string) ?? .null,
                                     "data": arguments]
            return ["status": "queued", "note": "The app applies this once the user has the answer; it is not done yet.", "action": action]
        case .client:
            guard let client = context.client else {
                throw ToolError("This tool runs in the app, which is not connected by the chat WebSocket: it cannot run now.")
            }
            return try await client.run(tool: name, arguments: arguments)
        }
    }

    /// The actions a turn's calls queued, in the order the model made the calls (parallel calls finish in any
    /// order): the results of the blueprint's action tools that succeeded.
    static func actions(in messages: [StoredMessage], blueprint: Blueprint) -> [JSONValue] {
        let actionTools = Set(blueprint.clientTools.filter(\.isAction).map(\.name))
        let parts = messages.flatMap(\.parts)
        var queued: [String: JSONValue] = [:]
        for case .toolResult(let result) in parts where actionTools.contains(result.name) && !result.isError {
            queued[result.callID] = result.content["action"]
        }
        return parts.compactMap { part in
            guard case .toolCall(let call) = part else { return nil }
            return queued[call.id]
        }
    }
}
