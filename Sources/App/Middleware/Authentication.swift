import Core
import HTTPTypes
import Hummingbird

/// Resolves `Authorization: Bearer <token>` into the scope's identity. A rejected token is not an error here: routes
/// that need an identity report why it was rejected (`RequestScope.requireIdentity`). Public routes (`publicPaths`)
/// use no identity, so a token sent to them is not even looked at: a health check costs no database query, and is
/// never rate limited (`RateLimit` applies to an identity).
struct Authentication: Sendable {
    let accounts: Accounts
    let publicPaths: Set<String>

    func identify(_ request: Request, scope: inout RequestScope) async throws {
        guard let header = request.headers.value(.authorization), !publicPaths.contains(request.uri.path) else { return }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        if parts.count == 2, parts[0].lowercased() == "bearer" {
            let token = String(parts[1].drop { $0 == " " })
            do {
                scope.identity = try await accounts.authenticate(bearer: token)
            } catch let error as AppError {
                scope.authError = error
            }
        } else {
            scope.authError = AppError.unauthorized("invalid_token", "Use the Authorization header as 'Bearer <access_token>'.")
        }
    }
}
