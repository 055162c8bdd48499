import HTTPTypes
import Hummingbird

/// The contract's operations whose path has no parameter, found by the whole path in one look-up before
/// the router's trie is walked. The trie splits the path into components and compares each with its siblings in turn,
/// then writes the route's path as text for the context: 12,000 instructions for `GET /api/v1/auth/me`, the route
/// every frontend calls on every page, against a few hundred for the look-up (`NameTable`).
///
/// The answer is the router's own: a static route wins over parameters in the trie too, and each responder here is
/// the route's endpoint wrapped in the same middleware chain the router wraps it in. A blueprint never serves one of
/// the platform's paths (`OpenAPIDocument`), so no later route replaces one of these in the router. Any other request
/// (another method, a trailing slash, a parameter) goes to the router.
struct StaticRoutes: Sendable {
    typealias Context = AppRequestContext
    private var routes = NameTable<[(method: HTTPRequest.Method, path: String, responder: any HTTPResponder<Context>)]>()

    /// Adds `responder` (already wrapped in the router's middleware) for `method path`, when `path` has no parameter.
    mutating func add(_ path: String, method: HTTPRequest.Method, responder: any HTTPResponder<Context>) {
        guard !path.contains("{") else { return }
        routes[path] = (routes[path] ?? []) + [(method, path, responder)]
    }

    /// The answer of the route for `request`'s method and path, or nil when it is not one of these.
    func respond(to request: Request, context: Context) async throws -> Response? {
        guard let entries = routes[request.uri.path], let entry = entries.first(where: { $0.method == request.method }) else {
            return nil
        }
        // What the router records for metrics and tracing, so that a route answers the same whichever way it is found.
        context.coreContext.endpointPath.value = entry.path
        do {
            return try await entry.responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        }
    }
}

/// Collects `StaticRoutes` while the generated operations are registered (`RouterTransport`).
final class StaticRoutesBuilder {
    var routes = StaticRoutes()
}
