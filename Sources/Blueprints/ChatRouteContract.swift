import LLM

/// The OpenAPI operations of a blueprint's chat routes: the request and response in the app's field names, JSON or
/// the platform's event stream.
enum ChatRouteContract {
    static func add(_ blueprint: Blueprint, to part: inout CollectionContract.Part) {
        // A WebSocket is outside what OpenAPI describes, as the platform's own is.
        for route in blueprint.chatRoutes where route.method != ChatRoute.webSocket {
            let base = CollectionContract.camel(blueprint.name) + CollectionContract.camel(route.path.replacingOccurrences(of: "/", with: "_"))
            part.schemas[base + "ChatRequest"] = request(route)
            let output = blueprint.agents.first { $0.name == route.agent }?.output
            let result: JSONValue = route.mapsResponse ? response(route, output: output) : ["$ref": "#/components/schemas/TurnResult"]
            if route.mapsResponse { part.schemas[base + "ChatResponse"] = result }
            var schema: JSONValue = route.mapsResponse ? ["$ref": .string("#/components/schemas/\(base)ChatResponse")] : result
            if route.field(for: .mode) != nil { schema = ["oneOf": [schema, ["$ref": .string("#/components/schemas/\(PlanContract.planSchema(blueprint))")]]] }
            var item = part.paths[blueprint.prefix + route.path]?.objectValue ?? [:]
            item[route.method.lowercased()] = [
                "operationId": .string("chat\(base)"), "tags": [.string(blueprint.title)],
                "summary": .string("Chat with \(route.agent)"),
                "description": .string(description(route)),
                "requestBody": ["required": true, "content": ["application/json": ["schema": ["$ref": .string("#/components/schemas/\(base)ChatRequest")]]]],
                "responses": [
                    "200": ["description": "The turn.", "content": [
                        "application/json": ["schema": schema],
                        "text/event-stream": ["schema": ["$ref": "#/components/schemas/ChatStreamEvent"]],
                    ]],
                    "default": ["$ref": "#/components/responses/Problem"],
                ],
            ]
            part.paths[blueprint.prefix + route.path] = .object(item)
        }
    }

    private static func description(_ route: ChatRoute) -> String {
        let stream = route.field(for: .stream).map { " or `\"\($0)\": true`" } ?? ""
        let storage = route.stateless
            ? "Stateless: nothing of the message, its context or the answer is stored; calls that need approval are refused. "
            : "Without a conversation the user's own conversation of this route is used, created on first use. "
        return "One turn with the agent, as `sendMessage` runs it (authentication, the plan's limits and budget, tools and approvals "
            + "included). " + storage + "JSON by default; server-sent events with `Accept: text/event-stream`\(stream)."
            + (route.field(for: .mode).map { " With `\"\($0)\": \"plan\"` the answer is an ExecutionPlan (never streamed): one model call "
                + "writes it, its LLM steps name the app's prompt templates by id." } ?? "")
    }

    private static func request(_ route: ChatRoute) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for (field, slot) in route.request {
            properties[field] = switch slot {
            case .content: ["type": "string", "minLength": 1, "description": "The user's message."]
            case .conversation: ["type": ["string", "null"], "format": "uuid", "description": "The conversation; the route's own one by default."]
            case .agent: ["type": ["string", "null"], "description": "The agent that answers instead of the route's."]
            case .context: ["description": "Any JSON the model is shown with the message, as data."]
            case .stream: ["type": ["boolean", "null"], "description": "Answer as server-sent events."]
            case .mode: ["type": ["string", "null"], "enum": ["direct", "plan", .null],
                         "description": "`direct` (default): the answer; `plan`: an ExecutionPlan for the app to run."]
            }
        }
        // Fields the route does not map are ignored, so that an app's existing client may send what it always sent.
        return ["type": "object", "required": .array(route.field(for: .content).map { [.string($0)] } ?? []),
                "properties": .object(properties)]
    }

    private static func response(_ route: ChatRoute, output: JSONValue?) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        // The answer's JSON is null when the model did not follow the schema.
        func nullable(_ schema: JSONValue?) -> JSONValue { ["anyOf": [schema ?? [:], ["type": "null"]]] }
        for (field, name) in route.outputFields { properties[field] = nullable(output?["properties"]?[name]) }
        for (field, source) in route.response {
            properties[field] = switch source {
            case .messageText: ["type": "string", "description": "The agent's answer."]
            case .messageID: ["type": "string", "format": "uuid"]
            case .message: ["$ref": "#/components/schemas/Message"]
            case .messages: ["type": "array", "items": ["$ref": "#/components/schemas/Message"]]
            case .conversationID: ["type": "string", "format": "uuid"]
            case .turnID: ["type": "string", "format": "uuid"]
            case .status: ["type": "string", "enum": ["complete", "incomplete", "awaiting_approval"]]
            case .usage: ["$ref": "#/components/schemas/Usage"]
            case .approvals: ["type": "array", "items": ["$ref": "#/components/schemas/Approval"]]
            case .actions: ["type": "array", "description": "What the app is asked to apply, in order.", "items": [
                "type": "object", "required": ["type", "table", "agent", "data"],
                "properties": ["type": ["type": "string"], "table": ["type": ["string", "null"]], "agent": ["type": ["string", "null"]], "data": [:]],
            ]]
            case .output: nullable(output)
            }
        }
        return ["type": "object", "required": .array(properties.keys.sorted().map(JSONValue.string)), "properties": .object(properties)]
    }
}
