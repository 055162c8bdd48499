import API
import Core
import Foundation

extension APIHandler {
    func signup(_ input: Operations.Signup.Input) async throws -> Operations.Signup.Output {
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let pair = try await accounts.signup(email: body.email, password: body.password, name: body.name, client: RequestScope.client)
        return .created(.init(body: .json(.init(pair))))
    }

    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output {
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let pair = try await accounts.login(email: body.email, password: body.password, client: RequestScope.client)
        return .ok(.init(body: .json(.init(pair))))
    }

    /// The OAuth2 token endpoint: same outcomes as login and refresh, with OAuth2's `error` member on failures.
    func token(_ input: Operations.Token.Input) async throws -> Operations.Token.Output {
        guard case .urlEncodedForm(let form) = input.body else { throw AppError.badRequest("Expected a form body.") }
        do {
            let pair: TokenPair
            switch form.grantType {
            case .password:
                var missing: [FieldError] = []
                if form.username == nil { missing.append(FieldError(field: "username", code: "required", message: "is required")) }
                if form.password == nil { missing.append(FieldError(field: "password", code: "required", message: "is required")) }
                guard missing.isEmpty, let username = form.username, let password = form.password else {
                    throw AppError.validation(missing)
                }
                pair = try await accounts.login(email: username, password: password, client: RequestScope.client)
            case .refreshToken:
                guard let refreshToken = form.refreshToken else {
                    throw AppError.validation([FieldError(field: "refresh_token", code: "required", message: "is required")])
                }
                pair = try await accounts.refresh(refreshToken: refreshToken, client: RequestScope.client)
            }
            return .ok(.init(body: .json(.init(pair))))
        } catch var error as AppError {
            error.extensions["error"] = switch error.code {
            case "invalid_credentials", "invalid_refresh_token", "refresh_token_reused": "invalid_grant"
            case "rate_limited": "slow_down"
            case "not_found": "unsupported_grant_type"
            default: error.status >= 500 ? "temporarily_unavailable" : "invalid_request"
            }
            throw error
        }
    }

    func refresh(_ input: Operations.Refresh.Input) async throws -> Operations.Refresh.Output {
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let pair = try await accounts.refresh(refreshToken: body.refreshToken, client: RequestScope.client)
        return .ok(.init(body: .json(.init(pair))))
    }

    func logout(_ input: Operations.Logout.Input) async throws -> Operations.Logout.Output {
        let identity = try RequestScope.requireIdentity()
        var scope = LogoutScope.local
        if case .json(let body)? = input.body, let requested = body.scope {
            // The generated enum has a case for "" (it stands for null in the contract's enum): not a scope.
            guard let requested = LogoutScope(rawValue: requested.rawValue) else {
                throw AppError.validation([FieldError(field: "scope", code: "invalid_value", message: "must be local, global or others")])
            }
            scope = requested
        }
        try await accounts.logout(identity, scope: scope)
        return .noContent(.init())
    }

    func getMe(_ input: Operations.GetMe.Input) async throws -> Operations.GetMe.Output {
        .ok(.init(body: .json(.init(try RequestScope.requireIdentity().user))))
    }

    func listSessions(_ input: Operations.ListSessions.Input) async throws -> Operations.ListSessions.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await accounts.listSessions(identity, page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        let items = page.items.map { session in
            Components.Schemas.Session(
                id: session.id.lowercased, createdAt: session.createdAt, lastActiveAt: session.refreshedAt,
                expiresAt: session.expiresAt, userAgent: session.userAgent, ipAddress: session.ipAddress,
                current: session.id == identity.sessionID)
        }
        return .ok(.init(body: .json(.init(items: items, total: page.total, page: page.page, perPage: page.perPage))))
    }

    func deleteSession(_ input: Operations.DeleteSession.Input) async throws -> Operations.DeleteSession.Output {
        let identity = try RequestScope.requireIdentity()
        let id = try pathID(input.path.id, "session")
        try await accounts.revokeSession(identity, sessionID: id)
        return .noContent(.init())
    }
}
