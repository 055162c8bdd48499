import Core
import HTTPTypes
import Hummingbird

/// Reads the body whole, refusing it with 413 over the limit: at once when `Content-Length` says so, otherwise while
/// reading. Some routes have limits of their own (`overrides`, by `"METHOD /path"`, or `"METHOD /path/"` for every
/// path below it): a larger one, or nil for a route that streams its body and bounds it itself. On `rawBodyPaths`
/// (routes whose signature covers the body's exact bytes) the body is also published as `RequestScope.rawBody`.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let maxBytes: Int
    var overrides: [String: Int?] = [:]
    var rawBodyPaths: Set<String> = []

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var limit: Int? = maxBytes
        if !overrides.isEmpty {
            let route = request.method.rawValue + " " + request.uri.path
            if let own = overrides[route] {
                limit = own
            } else if let slash = route.lastIndex(of: "/"), let own = overrides[String(route[...slash])] {
                limit = own
            }
        }
        guard let limit else { return try await next(request, context) }
        if let length = request.headers.value(.contentLength).flatMap(Int.init), length > limit {
            throw HTTPError(.contentTooLarge)
        }
        var request = request, context = context
        let body = try await request.collectBody(upTo: limit)
        context.body = body
        guard rawBodyPaths.contains(request.uri.path), var scope = RequestScope.current else { return try await next(request, context) }
        scope.rawBody = body
        return try await RequestScope.$current.withValue(scope) { try await next(request, context) }
    }
}
