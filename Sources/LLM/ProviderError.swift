import Foundation

/// A model provider failed. `message` is the provider's own explanation with every secret removed; it is safe to show.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// 429: too many requests or tokens for the account.
        case rateLimited = "rate_limited"
        /// 5xx, 529, an overloaded provider, or a model cooling down after repeated failures.
        case unavailable
        /// No answer within the configured time.
        case timeout
        /// The connection could not be made or broke.
        case connection
        /// The stream ended before the response did.
        case interrupted
        /// 400: the provider refused the request as written.
        case badRequest = "bad_request"
        /// The prompt does not fit the model's context window.
        case contextLength = "context_length_exceeded"
        /// 401/403: the key is wrong or lacks access.
        case authentication
        /// 404: no such model or route.
        case notFound = "not_found"
        /// 408/409 and other statuses worth another try.
        case transient
        /// The provider answered something that is not its documented format.
        case malformed = "malformed_response"
    }

    public var kind: Kind
    public var status: Int?
    public var message: String
    /// How long the provider asked us to wait (`Retry-After`, `retry-after-ms`, Gemini's `RetryInfo`).
    public var retryAfter: Duration?
    /// The configured model name, filled in by the router.
    public var model: String?

    public init(_ kind: Kind, status: Int? = nil, message: String, retryAfter: Duration? = nil, model: String? = nil) {
        self.kind = kind
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.model = model
    }

    /// Connection errors, 408, 409, 429 and 5xx are worth another attempt on the same model; the rest are not.
    public var isRetryable: Bool {
        switch kind {
        case .rateLimited, .unavailable, .timeout, .connection, .interrupted, .transient: true
        case .badRequest, .contextLength, .authentication, .notFound, .malformed: false
        }
    }

    public var description: String {
        "\(model.map { "model \($0): " } ?? "")\(kind.rawValue)\(status.map { " (HTTP \($0))" } ?? ""): \(message)"
    }

    /// The kind an HTTP status means.
    static func kind(status: Int) -> Kind {
        switch status {
        case 429: .rateLimited
        case 408, 409: .transient
        case 401, 403: .authentication
        case 404: .notFound
        case 400, 413, 422: .badRequest
        case 500...: .unavailable
        default: .badRequest
        }
    }

    /// Whether a provider's message says the prompt is too long for the model.
    static func mentionsContextLength(_ message: String) -> Bool {
        let lowered = message.lowercased()
        return ["context_length_exceeded", "context length", "context window", "prompt is too long",
                "maximum context", "exceeds the maximum number of tokens", "too many tokens"].contains { lowered.contains($0) }
    }
}

/// Removes secrets from text that came back from a provider before it is logged or shown: the configured key itself
/// and anything shaped like a provider key or token.
public struct Redactor: Sendable {
    private let secrets: [String]
    private static let prefixes = ["sk-", "sk_", "AIza", "ya29.", "eyJ", "key-"]

    public init(secrets: [String]) {
        self.secrets = secrets.filter { $0.count >= 6 }
    }

    public func clean(_ text: String, limit: Int = 500) -> String {
        var text = text
        for secret in secrets { text = text.replacingOccurrences(of: secret, with: "[redacted]") }
        var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for index in words.indices where Self.prefixes.contains(where: { words[index].hasPrefix($0) }) && words[index].count > 12 {
            words[index] = "[redacted]"
        }
        text = words.joined(separator: " ")
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}
