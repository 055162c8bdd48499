import Agents
import Core
import Foundation
import LLM

/// Which of the caller's Google service accounts a tool uses: the one named by `integration_id`, or the only one.
/// Only the caller's own integrations are ever looked at.
struct ServiceAccounts: Sendable {
    let integrations: Integrations

    static let parameter: JSONValue = [
        "type": "string",
        "description": "The id of the Google service-account integration to use; needed only when the user has several.",
    ]

    func resolve(_ arguments: JSONValue, context: ToolContext) async throws -> (Integration, GoogleServiceAccount) {
        let integration: Integration
        if let requested = arguments["integration_id"]?.stringValue {
            guard let id = UUID(uuidString: requested),
                  let found = try? await integrations.get(id, userID: context.userID), found.kind == .googleServiceAccount else {
                throw ToolError("No Google service-account integration has the id \(requested).")
            }
            integration = found
        } else {
            let all = try await integrations.all(userID: context.userID, kind: .googleServiceAccount)
            guard let only = all.first else {
                throw ToolError("No Google service account is connected. The user can upload one (POST /api/v1/integrations).")
            }
            guard all.count == 1 else {
                throw ToolError("Several Google service accounts are connected; pass integration_id, one of: "
                                + all.map { "\($0.id.lowercased) (\($0.name))" }.joined(separator: ", "))
            }
            integration = only
        }
        let (_, secret) = try await integrations.secret(integration.id, userID: context.userID)
        guard let json = JSONValue.parse(secret), let account = try? GoogleServiceAccount(json: json) else {
            throw ToolError("The stored service-account key cannot be read.")
        }
        return (integration, account)
    }
}
