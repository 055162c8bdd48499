import Core
import HTTPTypes
import Hummingbird

/// Resolves `Authorization: Bearer <token>` into the scope's identity, then holds the identity to its tier's rate
/// (`RateLimit`, when limits are on). A rejected token is not an error here: routes that need an identity report why
/// it was rejected (`RequestScope.requireIdentity`). Public routes (`publicPaths`) use no identity, so a token sent to
/// them is not even looked at: a health check costs no database query, and is never rate limited.
/// One middleware for both, not two: each layer of the router's chain costs async frames on every request.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let accounts: Accounts
    let publicPaths: Set<String>
    let rateLimit: RateLimit?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers.value(.authorization), var scope = RequestScope.current, !publicPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
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
        return try await RequestScope.$current.withValue(scope) {
            guard let rateLimit, let identity = scope.identity else { return try await next(request, context) }
            return try await rateLimit.respond(identity, requestID: scope.requestID) { try await next(request, context) }
        }
    }
}
