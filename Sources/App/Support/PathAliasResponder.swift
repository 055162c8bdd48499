import Hummingbird

/// The application's responder: the router, after a blueprint's platform aliases (`POST /api/v1/auth/register` as
/// signup) have been resolved. An aliased request continues as if it had been sent to the platform's path, so it
/// passes the same middleware (authentication, limits, problems) and handlers, and answers the same way; it has to
/// happen before routing, since the router picks the route before any middleware runs.
public struct PathAliasResponder: HTTPResponder {
    public typealias Context = AppRequestContext
    let router: RouterResponder<AppRequestContext>
    /// The contract's operations without path parameters, found before the router is asked.
    var staticRoutes = StaticRoutes()
    let aliases: PathAliases
    /// The token routes answer `expires_at` in epoch seconds (`app.token_expiry: epoch_seconds`).
    var epochExpiry = false

    /// Each request is handled in a child task. A task keeps the most frame memory it ever used until it ends, and
    /// a connection's task lives as long as the connection: handled in it, every keep-alive connection kept the 40 to
    /// 60 KiB of its deepest request (the middlewares, the generated server, the handler and the database under
    /// them), and a response that streams for minutes (a chat turn) kept it all that time. The child's memory goes
    /// when the handler returns; the connection's task writes the response's body.
    public func respond(to request: Request, context: Context) async throws -> Response {
        async let response = handle(request, context: context)
        return try await response
    }

    func handle(_ request: Request, context: Context) async throws -> Response {
        var request = request
        if !aliases.isEmpty, let target = aliases.resolve(method: request.method.rawValue, path: request.uri.path, query: request.uri.query) {
            var head = request.head
            head.path = target
            request = Request(head: head, body: request.body)
        }
        let response: Response
        if let found = try await staticRoutes.respond(to: request, context: context) {
            response = found
        } else {
            response = try await router.respond(to: request, context: context)
        }
        guard epochExpiry, EpochExpiry.paths.contains(request.uri.path) else { return response }
        return try await EpochExpiry.rewrite(response)
    }
}
