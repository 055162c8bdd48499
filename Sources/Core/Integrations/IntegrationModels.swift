import Foundation
import LLM

/// What a user connected: a Google service account, or a plain API key. Only metadata ever leaves the server; the
/// secret is in the vault.
public enum IntegrationKind: String, Sendable, CaseIterable {
    case googleServiceAccount = "google_service_account"
    case apiKey = "api_key"
}

public struct Integration: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public let kind: IntegrationKind
    public let name: String
    /// Safe to show: a service account's `client_email`, `project_id` and `private_key_id`; an API key's `provider`.
    public let metadata: JSONValue
    public let createdAt: Date
}
