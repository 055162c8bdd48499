import AsyncHTTPClient
import Core
import Foundation
import LLM
import NIOHTTP1

/// `POST /integrations/{id}/validate`: a live, no-cost check that the stored credentials work, with a reason per
/// check when they do not.
public struct IntegrationValidator: Sendable {
    public struct Check: Sendable {
        public let name: String
        public let ok: Bool
        public let detail: String
    }

    public struct Result: Sendable {
        /// nil when the credentials cannot be checked (an API key of an unknown provider).
        public let valid: Bool?
        public let checks: [Check]
    }

    let integrations: Integrations
    let api: GoogleAPI

    public init(integrations: Integrations, api: GoogleAPI) {
        self.integrations = integrations
        self.api = api
    }

    public func validate(_ id: UUID, userID: UUID) async throws -> Result {
        let (integration, secret) = try await integrations.secret(id, userID: userID)
        switch integration.kind {
        case .googleServiceAccount:
            guard let json = JSONValue.parse(secret), let account = try? GoogleServiceAccount(json: json) else {
                return Result(valid: false, checks: [Check(name: "key", ok: false, detail: "The stored key cannot be read.")])
            }
            return await serviceAccount(integration, account)
        case .apiKey:
            return await apiKey(integration, String(decoding: secret, as: UTF8.self))
        }
    }

    private func serviceAccount(_ integration: Integration, _ account: GoogleServiceAccount) async -> Result {
        var checks: [Check] = []
        let settings = api.settings
        let analytics: String
        do {
            analytics = try await api.token(integrationID: integration.id, account: account, scope: GoogleAPI.analyticsScope)
            checks.append(Check(name: "token", ok: true, detail: "Google issued an access token to \(account.clientEmail)."))
        } catch let failure as GoogleAPI.Failure {
            let detail = failure.status >= 500 ? "Google's token endpoint could not be reached: \(failure.message)"
                : "Google refused to issue a token (the key may be revoked or deleted): \(failure.message)"
            checks.append(Check(name: "token", ok: false, detail: detail))
            return Result(valid: false, checks: checks)
        } catch {
            return Result(valid: false, checks: [Check(name: "token", ok: false, detail: "Google could not be reached.")])
        }
        do {
            let token = try await api.token(integrationID: integration.id, account: account, scope: GoogleAPI.bigQueryScope)
            let response = try await api.call(.GET, "\(settings.bigQueryURL)/bigquery/v2/projects/\(account.projectID.pathSegment)/datasets?maxResults=50",
                                              token: token)
            checks.append(Check(name: "bigquery", ok: true,
                                detail: "BigQuery: \(response["datasets"]?.arrayValue?.count ?? 0) datasets visible in \(account.projectID)."))
        } catch let failure as GoogleAPI.Failure {
            checks.append(Check(name: "bigquery", ok: false, detail: "BigQuery: \(failure.message)"))
        } catch {
            checks.append(Check(name: "bigquery", ok: false, detail: "BigQuery could not be reached."))
        }
        do {
            let response = try await api.call(.GET, "\(settings.analyticsAdminURL)/v1beta/accountSummaries?pageSize=200", token: analytics)
            let properties = (response["accountSummaries"]?.arrayValue ?? []).reduce(0) { $0 + ($1["propertySummaries"]?.arrayValue?.count ?? 0) }
            checks.append(Check(name: "analytics", ok: true, detail: "Google Analytics: access to \(properties) properties."))
        } catch let failure as GoogleAPI.Failure {
            checks.append(Check(name: "analytics", ok: false, detail: "Google Analytics: \(failure.message)"))
        } catch {
            checks.append(Check(name: "analytics", ok: false, detail: "Google Analytics could not be reached."))
        }
        return Result(valid: checks.dropFirst().contains { $0.ok }, checks: checks)
    }

    /// Lists the provider's models with the key: free, and refused with 401 for a bad key.
    private func apiKey(_ integration: Integration, _ key: String) async -> Result {
        let settings = api.settings
        var request: HTTPClientRequest
        switch integration.metadata["provider"]?.stringValue {
        case "openai":
            request = HTTPClientRequest(url: settings.openAIURL + "/models")
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
        case "anthropic":
            request = HTTPClientRequest(url: settings.anthropicURL + "/v1/models")
            request.headers.add(name: "x-api-key", value: key)
            request.headers.add(name: "anthropic-version", value: "2023-06-01")
        case "gemini":
            request = HTTPClientRequest(url: settings.geminiURL + "/v1beta/models")
            request.headers.add(name: "x-goog-api-key", value: key)
        default:
            return Result(valid: nil, checks: [Check(name: "key", ok: false, detail: "There is no live check for keys of this provider.")])
        }
        do {
            let response = try await api.client.execute(request, timeout: .seconds(30))
            _ = try? await response.body.collect(upTo: 4 << 20)
            let ok = response.status == .ok
            return Result(valid: ok, checks: [Check(name: "key", ok: ok, detail: ok ? "The provider accepted the key."
                                                    : "The provider refused the key (HTTP \(response.status.code)).")])
        } catch {
            return Result(valid: false, checks: [Check(name: "key", ok: false, detail: "The provider could not be reached.")])
        }
    }
}
