import Foundation

/// The provider-neutral conversation a model sees. Adapters translate it to and from each provider's wire format.
public enum Role: String, Sendable, Codable {
    case user
    case assistant
    /// Results of tool calls, fed back to the model.
    case tool
}

/// A tool the model asked to call. `arguments` is the parsed JSON object the model produced.
public struct ToolCall: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var arguments: JSONValue
    /// Gemini's `thoughtSignature`, which must be sent back with the call on the next request.
    public var signature: String?

    public init(id: String, name: String, arguments: JSONValue, signature: String? = nil) {
        self.id = id
        self.name = name
        self.arguments = arguments
        self.signature = signature
    }
}

/// What a tool returned (or the error it raised), for the call with `callID`.
public struct ToolResult: Sendable, Hashable, Codable {
    public var callID: String
    public var name: String
    public var content: JSONValue
    public var isError: Bool

    public init(callID: String, name: String, content: JSONValue, isError: Bool = false) {
        self.callID = callID
        self.name = name
        self.content = content
        self.isError = isError
    }
}

public enum Part: Sendable, Hashable {
    case text(String)
    case toolCall(ToolCall)
    case toolResult(ToolResult)
}

public struct ChatMessage: Sendable, Hashable {
    public var role: Role { didSet { wireForm = WireForm() } }
    public var parts: [Part] { didSet { wireForm = WireForm() } }
    /// Gemini's `thoughtSignature` on the message's text, echoed back like a tool call's.
    public var textSignature: String? { didSet { wireForm = WireForm() } }
    /// The message as a provider last wrote it, shared by its copies; equal to any other (`WireForm`).
    private(set) var wireForm = WireForm()

    public init(role: Role, parts: [Part], textSignature: String? = nil) {
        self.role = role
        self.parts = parts
        self.textSignature = textSignature
    }

    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, parts: [.text(text)]) }

    /// The text parts, joined. Nearly always there is one, which is returned as it is: joining it through an array
    /// made a new string of every message of the history each time a request to a model was written.
    public var text: String {
        var joined: String?
        for case .text(let text) in parts {
            joined = joined.map { $0 + text } ?? text
        }
        return joined ?? ""
    }

    public var toolCalls: [ToolCall] {
        parts.compactMap { if case .toolCall(let call) = $0 { call } else { nil } }
    }

    public var toolResults: [ToolResult] {
        parts.compactMap { if case .toolResult(let result) = $0 { result } else { nil } }
    }
}

/// A tool as the model is told about it: `parameters` is a JSON Schema for the arguments object.
public struct ToolSpec: Sendable, Hashable {
    public var name: String { didSet { wireForm = WireForm() } }
    public var description: String { didSet { wireForm = WireForm() } }
    public var parameters: JSONValue { didSet { wireForm = WireForm() } }
    /// The tool as a provider last wrote it, shared by its copies; equal to any other (`WireForm`).
    private(set) var wireForm = WireForm()

    public init(name: String, description: String, parameters: JSONValue) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// A part of the system prompt. Blocks are sent in order; a provider that caches prompts explicitly (Anthropic) is
/// told to cache up to the end of the leading cacheable ones.
public struct SystemBlock: Sendable, Equatable {
    public var text: String
    /// The same on every request of this agent (no per-user or per-day text), so a provider may cache it.
    public var cacheable: Bool

    public init(_ text: String, cacheable: Bool = true) {
        self.text = text
        self.cacheable = cacheable
    }
}

/// A JSON answer the model must give, by its JSON Schema: enforced by the provider where it can (OpenAI's
/// `json_schema` response format, Gemini's response schema), asked for in words elsewhere, and always to be
/// validated by the caller.
public struct OutputFormat: Sendable, Equatable {
    public let name: String
    /// An object schema; OpenAI's strict mode wants every property required and no others allowed.
    public let schema: JSONValue

    public init(name: String, schema: JSONValue) {
        self.name = name
        self.schema = schema
    }

    /// How a provider that cannot hold the model to the schema asks for it, in words (the caller validates).
    public var instruction: String {
        "Answer with one JSON object only, no other text, matching this JSON Schema: " + schema.jsonString
    }
}

public struct ChatRequest: Sendable {
    public var system: [SystemBlock]
    public var output: OutputFormat?
    public var messages: [ChatMessage]
    public var tools: [ToolSpec]
    public var maxOutputTokens: Int?
    public var temperature: Double?

    public init(system: [SystemBlock] = [], messages: [ChatMessage], tools: [ToolSpec] = [], maxOutputTokens: Int? = nil,
                temperature: Double? = nil, output: OutputFormat? = nil) {
        self.system = system
        self.output = output
        self.messages = messages
        self.tools = tools
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
    }
}

/// Token counts, normalised across providers. `inputTokens` counts every prompt token, cached or not;
/// `outputTokens` counts every generated token, reasoning included.
public struct Usage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    /// Prompt tokens read from the provider's cache (billed at a discount).
    public var cachedInputTokens: Int
    /// Prompt tokens written to the provider's cache (Anthropic bills them at a premium).
    public var cacheWriteTokens: Int
    /// Output tokens spent on hidden reasoning.
    public var reasoningTokens: Int

    /// The most any count holds: counts come from providers (or whatever answers at their address), so each is
    /// clamped to `0...maxTokens` where it is made, and sums of a few billion of them still fit in 64 bits.
    public static let maxTokens = 1 << 40

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cachedInputTokens: Int = 0, cacheWriteTokens: Int = 0,
                reasoningTokens: Int = 0) {
        self.inputTokens = Self.clamped(inputTokens)
        self.outputTokens = Self.clamped(outputTokens)
        self.cachedInputTokens = Self.clamped(cachedInputTokens)
        self.cacheWriteTokens = Self.clamped(cacheWriteTokens)
        self.reasoningTokens = Self.clamped(reasoningTokens)
    }

    public static let zero = Usage()

    /// A count as a provider reported it (any JSON number or nothing), in `0...maxTokens`.
    public static func count(_ value: JSONValue?) -> Int {
        clamped(value?.intValue ?? 0)
    }

    static func clamped(_ count: Int) -> Int {
        min(max(count, 0), maxTokens)
    }

    public var totalTokens: Int { inputTokens + outputTokens }

    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(inputTokens: lhs.inputTokens + rhs.inputTokens, outputTokens: lhs.outputTokens + rhs.outputTokens,
              cachedInputTokens: lhs.cachedInputTokens + rhs.cachedInputTokens,
              cacheWriteTokens: lhs.cacheWriteTokens + rhs.cacheWriteTokens,
              reasoningTokens: lhs.reasoningTokens + rhs.reasoningTokens)
    }
}

public enum FinishReason: String, Sendable, Codable {
    /// A final answer.
    case stop
    /// The model wants tools called.
    case toolCalls = "tool_calls"
    /// The output token limit cut the answer.
    case length
    /// The provider's safety filter stopped the answer.
    case contentFilter = "content_filter"
}

/// One step of a streamed model response.
public enum ModelEvent: Sendable, Hashable {
    case textDelta(String)
    /// A tool call begins; `index` tells parallel calls apart.
    case toolCallStart(index: Int, id: String, name: String)
    case toolCallArguments(index: Int, fragment: String)
    /// Gemini's thought signature for the call at `index`, or for the text when `index` is nil.
    case signature(index: Int?, value: String)
    /// Cumulative usage so far; the last one wins.
    case usage(Usage)
    case finish(FinishReason)
}

/// A whole model response: what a non-streaming call returns, or a stream assembled.
public struct ModelResponse: Sendable, Hashable {
    public var message: ChatMessage
    public var usage: Usage
    public var finishReason: FinishReason

    public init(message: ChatMessage, usage: Usage, finishReason: FinishReason) {
        self.message = message
        self.usage = usage
        self.finishReason = finishReason
    }
}
