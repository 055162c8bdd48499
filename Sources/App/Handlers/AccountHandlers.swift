import API
import Core
import Foundation
import LLM

extension APIHandler {
    func getPlan(_ input: Operations.GetPlan.Input) async throws -> Operations.GetPlan.Output {
        let identity = try RequestScope.requireIdentity()
        let user = identity.user
        let tier = plans.tier(user.tier)
        let balance = try await quotas.balance(user: user)
        let storage = try await quotas.recentStorageBytes(userID: user.id)
        return .ok(.init(body: .json(.init(
            tier: tier.name, seats: user.seats,
            limits: .init(requestsPerMinute: tier.requestsPerMinute(seats: user.seats), monthlyTokens: tier.monthlyTokens(seats: user.seats),
                          storageBytes: tier.storageBytes, features: tier.features.sorted(),
                          app: tier.limits.isEmpty ? nil : .init(additionalProperties: tier.limits)),
            usage: .init(month: balance.month, tokensUsed: balance.used, tokensRemaining: balance.remaining, storageBytes: storage)))))
    }

    func getUsage(_ input: Operations.GetUsage.Input) async throws -> Operations.GetUsage.Output {
        let identity = try RequestScope.requireIdentity()
        let today = UsageStore.day(clock.now)
        let from = input.query.from ?? String(today.prefix(8)) + "01"
        let to = input.query.to ?? today
        var errors: [FieldError] = []
        for (field, value) in [("from", from), ("to", to)] where RFC3339.parse(value + "T00:00:00Z") == nil {
            errors.append(FieldError(field: field, code: "invalid_date", message: "must be a date, YYYY-MM-DD"))
        }
        if errors.isEmpty, let start = RFC3339.parse(from + "T00:00:00Z"), let end = RFC3339.parse(to + "T00:00:00Z") {
            if end < start { errors.append(FieldError(field: "to", code: "before_from", message: "must not be before from")) }
            if end.timeIntervalSince(start) > 366 * 86_400 { errors.append(FieldError(field: "to", code: "range_too_long", message: "at most 366 days after from")) }
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }
        let grouping: UsageReport.Grouping = input.query.groupBy == .model ? .model : .day
        let report = UsageReport(rows: try await usage.daily(userID: identity.user.id, from: from, to: to), from: from, to: to,
                                 grouping: grouping, prices: prices)
        func line(_ line: UsageReport.Line) -> Components.Schemas.UsageLine {
            .init(key: line.key, requests: line.requests, inputTokens: line.usage.inputTokens, outputTokens: line.usage.outputTokens,
                  cachedInputTokens: line.usage.cachedInputTokens, reasoningTokens: line.usage.reasoningTokens,
                  totalTokens: line.usage.totalTokens, costUsd: (line.cost * 1_000_000).rounded() / 1_000_000)
        }
        return .ok(.init(body: .json(.init(from: from, to: to, groupBy: grouping == .model ? .model : .day,
                                           items: report.lines.map(line), total: line(report.total)))))
    }

    func createApiKey(_ input: Operations.CreateApiKey.Input) async throws -> Operations.CreateApiKey.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let (key, token) = try await accounts.apiKeys.create(userID: identity.user.id, name: body.name, scopes: body.scopes, expiresAt: body.expiresAt)
        return .created(.init(body: .json(.init(id: key.id.lowercased, name: key.name, prefix: key.prefix, scopes: key.scopes,
                                                createdAt: key.createdAt, expiresAt: key.expiresAt, key: token))))
    }

    func listApiKeys(_ input: Operations.ListApiKeys.Input) async throws -> Operations.ListApiKeys.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await accounts.apiKeys.list(userID: identity.user.id, page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        let items = page.items.map { key in
            Components.Schemas.ApiKeyInfo(id: key.id.lowercased, name: key.name, prefix: key.prefix, scopes: key.scopes, createdAt: key.createdAt,
                                          expiresAt: key.expiresAt, lastUsedAt: key.lastUsedAt)
        }
        return .ok(.init(body: .json(.init(items: items, total: page.total, page: page.page, perPage: page.perPage))))
    }

    func deleteApiKey(_ input: Operations.DeleteApiKey.Input) async throws -> Operations.DeleteApiKey.Output {
        let identity = try RequestScope.requireIdentity()
        let id = try pathID(input.path.id, "API key")
        try await accounts.apiKeys.revoke(id, userID: identity.user.id)
        return .noContent(.init())
    }
}
