import Foundation

/// One model behind one provider's API. Adapters hold no state between calls but their HTTP client.
public protocol ModelProvider: Sendable {
    /// `openai`, `anthropic`, `gemini`, `vertex` or `mock`: shown with every message the model writes.
    var providerName: String { get }
    /// Starts a streamed response. Errors before the first byte of the body (HTTP status, connection) are thrown
    /// here; errors after it end the stream. Either way they are `ProviderError`s.
    func stream(_ request: ChatRequest) async throws -> AsyncThrowingStream<ModelEvent, any Error>
    /// The whole response at once.
    func complete(_ request: ChatRequest) async throws -> ModelResponse
    /// Releases the HTTP client.
    func shutdown() async
}

/// A configured model: `models.<name>.*` in the settings.
public struct ModelConfig: Sendable {
    public enum Provider: String, Sendable, CaseIterable {
        /// OpenAI Chat Completions, and every server that speaks it (Groq, Ollama, vLLM, OpenRouter, ...).
        case openai
        case anthropic
        /// Google Gemini with an API key.
        case gemini
        /// Gemini on Google Cloud Vertex AI with a service account.
        case vertex
        /// Scripted replies for demos and frontend work.
        case mock
    }

    public var name: String
    public var provider: Provider
    /// The provider's own model id (`gpt-4o-mini`, `claude-sonnet-4-5`, `gemini-2.5-flash`).
    public var model: String
    public var baseURL: String?
    public var apiKey: String?
    /// Models to try, in order, when this one fails.
    public var fallbacks: [String] = []
    public var connectTimeout: Duration = .seconds(10)
    /// The most a response may stay silent (between streamed chunks, or for a whole non-streamed response).
    public var readTimeout: Duration = .seconds(120)
    /// Attempts on this model for a retryable failure before moving to the fallbacks.
    public var maxAttempts: Int = 3
    /// Concurrent HTTP/1.1 connections to the provider: one per streamed answer in flight.
    public var maxConnections: Int = 256
    public var maxOutputTokens: Int?
    public var temperature: Double?
    /// Vertex AI: the Google Cloud project and region, and the service-account key file.
    public var vertexProject: String?
    public var vertexLocation: String = "us-central1"
    public var credentialsFile: String?
    /// Mock: the script file (JSON); without one the built-in demo script answers.
    public var mockScript: String?

    public init(name: String, provider: Provider, model: String) {
        self.name = name
        self.provider = provider
        self.model = model
    }
}
