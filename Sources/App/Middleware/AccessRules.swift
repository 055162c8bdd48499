import Core
import Foundation
import HTTPTypes

/// What each operation needs beyond an identity: the API-key scope that allows it (none: a login session only) and
/// the feature the plan must include. One table, checked before the body is read (`OperationChecksMiddleware`).
struct AccessRules: Sendable {
    struct Rule {
        /// The scope an API key needs; nil when only a login session may call it.
        let scope: String?
        let feature: String?

        init(scope: String?, feature: String? = nil) {
            self.scope = scope
            self.feature = feature
        }
    }

    static let rules: [String: Rule] = [
        "getMe": Rule(scope: "account:read"), "getPlan": Rule(scope: "account:read"), "getUsage": Rule(scope: "account:read"),
        "getSubscription": Rule(scope: "account:read"), "listAgents": Rule(scope: "account:read"), "listModels": Rule(scope: "account:read"),
        "listConversations": Rule(scope: "conversations:read"), "getConversation": Rule(scope: "conversations:read"),
        "listMessages": Rule(scope: "conversations:read"),
        "createConversation": Rule(scope: "conversations:write"), "updateConversation": Rule(scope: "conversations:write"),
        "deleteConversation": Rule(scope: "conversations:write"),
        "sendMessage": Rule(scope: "chat", feature: "chat"),
        "listApprovals": Rule(scope: "conversations:read"), "decideApproval": Rule(scope: "chat", feature: "chat"),
        "listIntegrations": Rule(scope: "integrations:read"), "getIntegration": Rule(scope: "integrations:read"),
        "validateIntegration": Rule(scope: "integrations:read", feature: "integrations"),
        "createIntegration": Rule(scope: "integrations:write", feature: "integrations"),
        // Removing one's own secrets is always allowed, whatever the plan.
        "deleteIntegration": Rule(scope: "integrations:write"),
        "createApiKey": Rule(scope: nil, feature: "api_keys"),
        "listTeams": Rule(scope: "teams:read"), "getTeam": Rule(scope: "teams:read"), "listTeamMembers": Rule(scope: "teams:read"),
        "listTeamInvitations": Rule(scope: "teams:read"), "listMyInvitations": Rule(scope: "teams:read"),
        "createTeam": Rule(scope: "teams:write"), "renameTeam": Rule(scope: "teams:write"), "deleteTeam": Rule(scope: "teams:write"),
        "updateTeamMember": Rule(scope: "teams:write"), "removeTeamMember": Rule(scope: "teams:write"),
        "createInvitation": Rule(scope: "teams:write"), "revokeInvitation": Rule(scope: "teams:write"),
        "acceptInvitation": Rule(scope: "teams:write"), "declineInvitation": Rule(scope: "teams:write"),
        // Memory is held by the storage quota and the token budget, not by a feature of the plan.
        "listMemories": Rule(scope: "memories:read"), "getMemory": Rule(scope: "memories:read"), "searchMemories": Rule(scope: "memories:read"),
        "createMemory": Rule(scope: "memories:write"), "updateMemory": Rule(scope: "memories:write"),
        "deleteMemory": Rule(scope: "memories:write"), "forgetMemories": Rule(scope: "memories:write"),
    ]

    let plans: Plans

    /// Throws the 403 of a key without the scope or a plan without the feature; nothing without an identity (the
    /// operation is public, or the identity check has already refused it).
    func check(operationID: String) throws {
        guard let identity = RequestScope.current?.identity else { return }
        let rule = Self.rules[operationID]
        try plans.authorize(identity, scope: rule?.scope, feature: rule?.feature)
    }
}
