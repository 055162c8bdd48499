import Foundation
import LLM

/// A tool that touches nothing on the server (`client_tools:`), for apps that keep their users' data on the users'
/// machines: it reads what the app sent with the request (`context: recent_tasks` answers with that part of the
/// request's context), hands the app an action to apply (`action: {type: create_record, table: tasks}` turns the
/// call's arguments into `{type, table, agent, data}` for the response's `actions`), or is run by the app itself
/// over the chat WebSocket (`execute: client`).
public struct ClientToolSpec: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A path into the request's context: `recent_tasks`, `user_profile.timezone`.
        case context([String])
        /// The action the app applies; `data` is the call's arguments.
        case action(type: String, table: String?, agent: String?)
        /// The app runs the call itself, over the chat WebSocket it is connected by, and answers its result.
        case client
    }

    public let name: String
    public let description: String
    /// A JSON Schema for the arguments: the model fills it, the platform checks it.
    public let parameters: JSONValue
    public let source: Source

    public var isAction: Bool { if case .action = source { true } else { false } }
}

extension Checker {
    mutating func clientTools(_ value: JSONValue?, collections: [CollectionSpec]) -> [ClientToolSpec] {
        guard let value else { return [] }
        guard case .object(let declared) = value, declared.count <= 100 else {
            problem("client_tools", "must be a mapping of at most 100 tool names to {description, context | action, parameters}")
            return []
        }
        let collectionTools = Set(collections.flatMap { collection in ToolOperation.allCases.map { $0.toolName(collection.name) } })
        var tools: [ClientToolSpec] = []
        for name in inFileOrder(declared, at: "client_tools") {
            let at = "client_tools.\(name)"
            guard Names.isIdentifier(name, maxLength: 64) else {
                problem(at, "must be a tool name: lowercase letters, digits and _, starting with a letter")
                continue
            }
            if collectionTools.contains(name) || Self.memoryTools.contains(name) { problem(at, "\(name) is already a tool of the app or the platform") }
            guard case .object(let spec) = declared[name]! else {
                problem(at, "must be {description, context: <path>} or {description, action: {type, table}, parameters}")
                continue
            }
            allowOnly(spec, at: at, known: ["description", "context", "action", "execute", "parameters"])
            let description = spec["description"]?.stringValue ?? ""
            if description.isEmpty || description.count > 1_000 { problem(at + ".description", "is required: what the tool does, for the model (up to 1,000 characters)") }
            let parameters = spec["parameters"] ?? ["type": "object", "properties": [:]]
            if parameters["type"]?.stringValue != "object" { problem(at + ".parameters", "must be a JSON Schema of type object") }
            let source: ClientToolSpec.Source
            switch (spec["context"], spec["action"], spec["execute"]) {
            case (nil, nil, .string("client")?):
                source = .client
            case (.string(let path)?, nil, nil):
                let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                if !parts.allSatisfy(Names.isFieldName) { problem(at + ".context", "must be a path of field names into the request's context, like recent_tasks") }
                source = .context(parts)
            case (nil, .object(let action)?, nil):
                allowOnly(action, at: at + ".action", known: ["type", "table", "agent"])
                let type = action["type"]?.stringValue ?? ""
                if !Names.isIdentifier(type, maxLength: 64) { problem(at + ".action.type", "is required: the action's type, like create_record") }
                for key in ["table", "agent"] {
                    if let given = action[key], !(given.stringValue.map { Names.isIdentifier($0, maxLength: 64) } ?? false) {
                        problem("\(at).action.\(key)", "must be a name: lowercase letters, digits and _")
                    }
                }
                source = .action(type: type, table: action["table"]?.stringValue, agent: action["agent"]?.stringValue)
            default:
                problem(at, "must have exactly one of context (a path into the request's context), action ({type, table}) and execute: client")
                continue
            }
            tools.append(ClientToolSpec(name: name, description: description, parameters: parameters, source: source))
        }
        return tools
    }
}
