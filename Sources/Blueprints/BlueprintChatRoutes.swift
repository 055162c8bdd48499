import Foundation
import LLM

/// Chat at one of the app's own paths and in its own field names (`chat_routes:`): the request's fields are mapped
/// to the turn (its content, conversation, agent, extra context, whether to stream) and the turn's result to the
/// response's fields.
public struct ChatRoute: Sendable, Equatable {
    /// What a request field stands for.
    public enum Slot: String, Sendable, CaseIterable {
        /// The user's message (required).
        case content
        /// The conversation's id; without it, the user's own conversation of this route (or a new one: see
        /// `newConversation`).
        case conversation
        /// Another agent than the route's.
        case agent
        /// Any JSON the app sends along, shown to the model with the message as data.
        case context
        /// `true`: answer as server-sent events.
        case stream
        /// `direct` (a reply) or `plan` (an ExecutionPlan for the app to run; `plans:`).
        case mode
    }

    /// What a response field is filled with.
    public enum Source: String, Sendable, CaseIterable {
        case messageText = "message.text", messageID = "message.id", message, messages
        case conversationID = "conversation_id", turnID = "turn_id", status, usage, approvals
        /// What the turn's client action tools queued for the app, in order (`client_tools:`).
        case actions
        /// The answer's JSON, from an agent with an `output:` schema (null when the model's answer did not follow it).
        case output
    }

    /// `POST` or `PUT`, or `WEBSOCKET` for a socket at the path (each frame a request, the turn's events back).
    public let method: String
    public static let webSocket = "WEBSOCKET"
    /// Below the app's prefix, like collections' paths.
    public let path: String
    public let agent: String
    /// Request field -> slot.
    public let request: [String: Slot]
    /// Response field -> source; empty: the platform's turn result as it is.
    public let response: [String: Source]
    /// Response field -> a property of the answer's JSON (`reply: output.reply`).
    public var outputFields: [String: String] = [:]
    /// Nothing of the turn is stored: no conversation, no messages (see `Orchestrator.startStateless`).
    public var stateless = false
    /// A request that names no conversation starts a new one, titled by its message (`new_conversation: true`),
    /// rather than continuing the user's one conversation of this route.
    public var newConversation = false
    /// A WebSocket route's own frames instead of the platform's events; nil: the platform's.
    public var frames: SocketFrames?

    /// What a WebSocket route's client receives (`frames:`): a frame per piece of the answer as it is written, and one
    /// last frame per turn, in the app's fields. Errors and the client tools' requests keep the platform's frames.
    public struct SocketFrames: Sendable, Equatable {
        /// Field -> value of the frame sent per piece of text; nil: none sent.
        public let delta: [String: FrameValue]?
        /// Field -> value of the frame that ends each turn.
        public let final: [String: FrameValue]
    }

    /// A frame field's value: the text piece (`delta`), one of the response's sources, or a constant.
    public enum FrameValue: Sendable, Equatable {
        case delta
        case source(Source)
        case constant(JSONValue)
    }

    /// Whether the route answers in its own fields (else the platform's turn result).
    public var mapsResponse: Bool { !response.isEmpty || !outputFields.isEmpty }

    public func field(for slot: Slot) -> String? {
        request.first { $0.value == slot }?.key
    }
}

extension Checker {
    mutating func chatRoutes(_ value: JSONValue?, taken: Set<String>) -> [ChatRoute] {
        guard let value else { return [] }
        guard case .array(let entries) = value, entries.count <= 50 else {
            problem("chat_routes", "must be a list of at most 50 {method, path, agent, request, response} routes")
            return []
        }
        var routes: [ChatRoute] = []
        var seen = taken
        for (index, entry) in entries.enumerated() {
            let at = "chat_routes.\(index)"
            guard case .object(let spec) = entry else {
                problem(at, "must be {method: POST, path: /chat, agent: <agent>, request: {message: content}, response: {reply: message.text}}")
                continue
            }
            allowOnly(spec, at: at, known: ["method", "path", "agent", "request", "response", "stateless", "frames", "new_conversation"])
            let method = (spec["method"]?.stringValue ?? "POST").uppercased()
            if !["POST", "PUT", ChatRoute.webSocket].contains(method) { problem(at + ".method", "must be POST, PUT or WEBSOCKET") }
            let path = spec["path"]?.stringValue ?? ""
            if !Self.isPath(path) {
                problem(at + ".path", "must be a path like /chat (lowercase letters, digits, - and _; no parameters)")
            } else if !seen.insert(method + " " + path).inserted {
                problem(at + ".path", "\(method) \(path) is already a route of the app")
            }
            let agent = spec["agent"]?.stringValue ?? ""
            // A configured agent is checked when the server starts; a name that is neither is caught there.
            if !Names.isIdentifier(agent, maxLength: 40) { problem(at + ".agent", "is required: the agent that answers") }
            let request = chatRequest(spec["request"], at: at + ".request")
            let (response, outputFields) = chatResponse(spec["response"], at: at + ".response")
            var route = ChatRoute(method: method, path: path, agent: agent, request: request, response: response)
            route.outputFields = outputFields
            if let stateless = spec["stateless"] {
                guard let flag = stateless.boolValue else {
                    problem(at + ".stateless", "must be true or false")
                    continue
                }
                route.stateless = flag
            }
            if let fresh = spec["new_conversation"] {
                guard let flag = fresh.boolValue else {
                    problem(at + ".new_conversation", "must be true or false")
                    continue
                }
                route.newConversation = flag
            }
            if let frames = spec["frames"] {
                if method != ChatRoute.webSocket { problem(at + ".frames", "only a WEBSOCKET route sends frames") }
                route.frames = socketFrames(frames, at: at + ".frames")
            }
            if route.stateless, route.newConversation {
                problem(at + ".new_conversation", "a stateless route stores no conversation")
            }
            if route.stateless {
                // What only a stored conversation has cannot be asked for or answered.
                for (field, slot) in request where slot == .conversation {
                    problem("\(at).request.\(field)", "a stateless route stores no conversation: conversation cannot be mapped")
                }
                for (field, source) in response where [.conversationID, .approvals].contains(source) {
                    problem("\(at).response.\(field)", "a stateless route stores no conversation: \(source.rawValue) cannot be mapped")
                }
                for (field, value) in route.frames?.final ?? [:] where [.source(.conversationID), .source(.approvals)].contains(value) {
                    problem("\(at).frames.final.\(field)", "a stateless route stores no conversation: it cannot be sent")
                }
            }
            routes.append(route)
        }
        return routes
    }

    /// `frames: {delta: {type: token, content: delta}, final: {done: true, response: message.text}}`: strings naming
    /// `delta` (in `delta` only) or a response source stand for it; anything else is sent as written.
    private mutating func socketFrames(_ value: JSONValue, at: String) -> ChatRoute.SocketFrames? {
        guard case .object(let spec) = value, case .object(let final)? = spec["final"] else {
            problem(at, "must be {delta: {<field>: delta, ...}, final: {<field>: message.text, ...}} (final is required)")
            return nil
        }
        allowOnly(spec, at: at, known: ["delta", "final"])
        func fields(_ declared: [String: JSONValue], at: String, delta: Bool) -> [String: ChatRoute.FrameValue] {
            var mapped: [String: ChatRoute.FrameValue] = [:]
            for field in inFileOrder(declared, at: at) {
                guard Names.isFieldName(field) else {
                    problem("\(at).\(field)", "must be a field name: letters, digits or _, starting with a letter")
                    continue
                }
                let given = declared[field]!
                if delta, given == "delta" {
                    mapped[field] = .delta
                } else if let source = given.stringValue.flatMap(ChatRoute.Source.init(rawValue:)) {
                    mapped[field] = .source(source)
                } else {
                    mapped[field] = .constant(given)
                }
            }
            return mapped
        }
        var deltaFrame: [String: ChatRoute.FrameValue]?
        if let given = spec["delta"] {
            if case .object(let declared) = given {
                deltaFrame = fields(declared, at: at + ".delta", delta: true)
                if !(deltaFrame?.values.contains(.delta) ?? false) { problem(at + ".delta", "must name the field that carries the text: {<field>: delta}") }
            } else {
                problem(at + ".delta", "must be the text piece's frame, e.g. {type: token, content: delta}")
            }
        }
        return ChatRoute.SocketFrames(delta: deltaFrame, final: fields(final, at: at + ".final", delta: false))
    }

    private mutating func chatRequest(_ value: JSONValue?, at: String) -> [String: ChatRoute.Slot] {
        guard case .object(let declared) = value ?? .null else {
            problem(at, "is required: the request's fields and what they are, e.g. {message: content}")
            return [:]
        }
        let request: [String: ChatRoute.Slot] = fields(declared, at: at, unique: true)
        if !request.values.contains(.content) { problem(at, "must name the field that holds the message: {<field>: content}") }
        return request
    }

    /// The response's fields: each a source, or `output.<property>` (a property of the answer's JSON).
    private mutating func chatResponse(_ value: JSONValue?, at: String) -> ([String: ChatRoute.Source], [String: String]) {
        guard let value else { return ([:], [:]) }
        guard case .object(var declared) = value else {
            problem(at, "must map the response's fields to what fills them, e.g. {reply: message.text}")
            return ([:], [:])
        }
        var outputFields: [String: String] = [:]
        for (field, source) in declared {
            guard let name = source.stringValue, name.hasPrefix("output.") else { continue }
            declared[field] = nil
            if Names.isFieldName(field) { outputFields[field] = String(name.dropFirst("output.".count)) }
            else { problem("\(at).\(field)", "must be a field name: letters, digits or _, starting with a letter") }
        }
        return (fields(declared, at: at, unique: false), outputFields)
    }

    /// The app's field names, each mapped to one of `Value`'s cases (each case to one field at most when `unique`).
    private mutating func fields<Value: RawRepresentable & CaseIterable & Equatable>(_ declared: [String: JSONValue], at: String,
                                                                                  unique: Bool) -> [String: Value] where Value.RawValue == String {
        var mapped: [String: Value] = [:]
        for field in inFileOrder(declared, at: at) {
            guard Names.isFieldName(field) else {
                problem("\(at).\(field)", "must be a field name: letters, digits or _, starting with a letter")
                continue
            }
            guard let value = declared[field]?.stringValue.flatMap(Value.init(rawValue:)) else {
                problem("\(at).\(field)", "must be one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
                continue
            }
            if unique, mapped.values.contains(value) { problem("\(at).\(field)", "\(value.rawValue) is already another field's") }
            mapped[field] = value
        }
        return mapped
    }
}
