import Core
import HTTPTypes
import Hummingbird

/// Refuses bodies over the limit with 413: at once when `Content-Length` says so, otherwise while reading. Some
/// routes have limits of their own (`overrides`, by `"METHOD /path"`, or `"METHOD /path/"` for every path below
/// it): a larger one, or nil for a route that streams its body and bounds it itself.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let maxBytes: Int
    var overrides: [String: Int?] = [:]

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
        context.body = try await request.collectBody(upTo: limit)
        return try await next(request, context)
    }
}
