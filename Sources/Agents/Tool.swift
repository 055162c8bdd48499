import Foundation
import LLM
import Logging

/// A capability the model can call. The orchestrator knows tools only through this protocol: the app's data,
/// connectors and MCP servers all plug in here.
public protocol Tool: Sendable {
    /// Letters, digits, `_` and `-`, as every provider accepts.
    var name: String { get }
    /// What the tool does and when to use it: the model reads this.
    var description: String { get }
    /// A JSON Schema for the arguments object. Arguments are checked against it before `execute` runs. Read once,
    /// with the name and description, when the registry is made: what the model is told of a tool does not change.
    var parameters: JSONValue { get }
    /// Runs the tool for `context.userID`. A `ToolError` is shown to the model; any other error is logged and the
    /// model is told only that the tool failed.
    func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue
    /// Checks, without changing anything, what the schema cannot (the record to change exists and is the user's),
    /// before a call is put to the user for approval. Throws a `ToolError` the model reads.
    func precheck(_ arguments: JSONValue, context: ToolContext) async throws
}

extension Tool {
    public func precheck(_ arguments: JSONValue, context: ToolContext) async throws {}
}

/// Who a tool runs for, and where. Tools reach data only through this user, so no tool can read another user's.
public struct ToolContext: Sendable {
    public let userID: UUID
    /// The user's tier as the turn began.
    public let tier: String
    public let conversationID: UUID
    /// The app the server serves (a blueprint's name), and its flags as configured: a tool may behave by them.
    public let app: ToolEnvironment
    /// What the app sent with the turn's message (a chat route's `context`), for tools that read it.
    public let requestContext: JSONValue?
    /// The connected app, for tools it runs itself; nil when it is not connected (plain HTTP).
    public let client: (any ClientToolChannel)?
    public let logger: Logger

    public init(userID: UUID, tier: String = "", conversationID: UUID, app: ToolEnvironment = .init(), requestContext: JSONValue? = nil,
                client: (any ClientToolChannel)? = nil, logger: Logger) {
        self.userID = userID
        self.tier = tier
        self.conversationID = conversationID
        self.app = app
        self.requestContext = requestContext
        self.client = client
        self.logger = logger
    }
}

/// The served app as tools see it.
public struct ToolEnvironment: Sendable {
    public let name: String?
    public let flags: [String: Bool]

    public init(name: String? = nil, flags: [String: Bool] = [:]) {
        self.name = name
        self.flags = flags
    }
}

/// A failure the model should see and can act on ("no such property", "the date range is empty").
public struct ToolError: Error, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// Every tool the server knows, by name. Agents pick from it.
public struct ToolRegistry: Sendable {
    private let tools: [String: any Tool]
    /// Each tool's spec, made once: a spec keeps the form a provider's request writes it in (`WireForm`), which a
    /// spec made afresh for each turn would have to write again.
    private let specsByName: [String: ToolSpec]

    public init(_ tools: [any Tool]) {
        var byName: [String: any Tool] = [:]
        for tool in tools {
            precondition(byName[tool.name] == nil, "two tools are named \(tool.name)")
            byName[tool.name] = tool
        }
        self.tools = byName
        self.specsByName = byName.mapValues { ToolSpec(name: $0.name, description: $0.description, parameters: $0.parameters) }
    }

    public func tool(named name: String) -> (any Tool)? { tools[name] }

    public var names: [String] { tools.keys.sorted() }

    /// The specs of the named tools, in the order given, for the model.
    public func specs(_ names: [String]) -> [ToolSpec] {
        names.compactMap { specsByName[$0] }
    }
}
