import Core
import Foundation
import LLM

/// An agent: a system prompt, a model, and the tools it may call. Configured under `agents.<name>.*`.
public struct AgentDefinition: Sendable {
    public var name: String
    public var description: String
    /// A configured model name; nil uses the default model.
    public var model: String?
    public var systemPrompt: String
    public var tools: [String]
    /// Model calls that may ask for tools in one turn; the turn then ends with a message saying the limit was hit.
    public var maxIterations: Int
    /// Tools whose calls wait for the user's decision, always or when a condition on their arguments holds.
    public var approvals: [String: ApprovalRule]
    /// Renders the system prompt for each turn (a blueprint's templates and prompt blocks); nil: `systemPrompt` as it is.
    public var prompt: (any SystemPromptSource)?
    /// The output guard: no run of the prompt's words reaches the client (`OutputGuard`).
    public var sanitize: Bool
    public var memory: MemoryMode
    /// The JSON its answers are (a blueprint agent's `output:`); nil: text. Every model call of its turns asks for it;
    /// tool calls come first, the answer is the JSON.
    public var output: OutputFormat?

    public init(name: String, description: String, model: String? = nil, systemPrompt: String, tools: [String],
                maxIterations: Int = 8, approvals: [String: ApprovalRule] = [:], prompt: (any SystemPromptSource)? = nil, sanitize: Bool = false,
                memory: MemoryMode = .off) {
        self.name = name
        self.description = description
        self.model = model
        self.systemPrompt = systemPrompt
        self.tools = tools
        self.maxIterations = maxIterations
        self.approvals = approvals
        self.prompt = prompt
        self.sanitize = sanitize
        self.memory = memory
    }

    /// The system prompt for one turn of `user`, with what the turn recalled (a prompt of its own places it; the
    /// fixed one gets it as a block after it).
    public func systemBlocks(for user: User, recollection: Recollection?) async throws -> [SystemBlock] {
        if let prompt { return try await prompt.blocks(for: user, recollection: recollection) }
        return [SystemBlock(systemPrompt)] + (recollection.map { [SystemBlock($0.block, cacheable: false)] } ?? [])
    }

    /// Whether this call must wait for the user's decision.
    public func needsApproval(_ call: ToolCall) -> Bool {
        switch approvals[call.name] ?? .never {
        case .never: false
        case .always: true
        case .when(let condition): condition.holds(for: call.arguments)
        }
    }

    /// Answers when nothing else is configured: a general assistant with the built-in tools.
    public static let assistant = AgentDefinition(
        name: "assistant",
        description: "A general assistant that can tell the time and search the user's earlier conversations.",
        systemPrompt: """
            You are a helpful assistant. Answer clearly and concisely. Use the tools when they help: current_time for \
            the date and time, conversation_search to find what the user said in earlier conversations.
            """,
        tools: [CurrentTimeTool.name, ConversationSearchTool.name])
}

/// When a tool's calls need the user's approval before they run.
public enum ApprovalRule: Sendable {
    case never, always
    case when(any ApprovalCondition)
}

/// A condition on a call's arguments (a blueprint's `{when: "@body.status = 'archived'"}`).
public protocol ApprovalCondition: Sendable {
    /// Whether the call needs approval; a condition that cannot be decided must answer true.
    func holds(for arguments: JSONValue) -> Bool
}

/// A system prompt rendered for each turn, for the user it answers.
public protocol SystemPromptSource: Sendable {
    /// The blocks in the order the model reads them, stable ones first.
    func blocks(for user: User, recollection: Recollection?) async throws -> [SystemBlock]
}
