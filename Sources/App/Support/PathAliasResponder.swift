import Hummingbird

/// The application's responder: the router, after a blueprint's platform aliases (`POST /api/v1/auth/register` as
/// signup) have been resolved. An aliased request continues as if it had been sent to the platform's path, so it
/// passes the same middleware (authentication, limits, problems) and handlers, and answers the same way; it has to
/// happen before routing, since the router picks the route before any middleware runs.
public struct PathAliasResponder: HTTPResponder {
    public typealias Context = AppRequestContext
    let router: RouterResponder<AppRequestContext>
    let aliases: PathAliases
    /// The token routes answer `expires_at` in epoch seconds (`app.token_expiry: epoch_seconds`).
    var epochExpiry = false

    public func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        if !aliases.isEmpty, let target = aliases.resolve(method: request.method.rawValue, path: request.uri.path, query: request.uri.query) {
            var head = request.head
            head.path = target
            request = Request(head: head, body: request.body)
        }
        let response = try await router.respond(to: request, context: context)
        guard epochExpiry, EpochExpiry.paths.contains(request.uri.path) else { return response }
        return try await EpochExpiry.rewrite(response)
    }
}
