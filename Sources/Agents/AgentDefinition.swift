import Foundation

/// An agent: a system prompt, a model, and the tools it may call. Configured under `agents.<name>.*`.
public struct AgentDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    /// A configured model name; nil uses the default model.
    public var model: String?
    public var systemPrompt: String
    public var tools: [String]
    /// Model calls that may ask for tools in one turn; the turn then ends with a message saying the limit was hit.
    public var maxIterations: Int

    public init(name: String, description: String, model: String? = nil, systemPrompt: String, tools: [String],
                maxIterations: Int = 8) {
        self.name = name
        self.description = description
        self.model = model
        self.systemPrompt = systemPrompt
        self.tools = tools
        self.maxIterations = maxIterations
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
