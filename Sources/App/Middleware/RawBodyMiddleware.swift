import Hummingbird
import NIOCore

/// Keeps the exact bytes of a request whose signature covers them (Stripe's webhook): the generated handler only sees
/// the decoded JSON, and a signature is only valid over the raw payload.
struct RawBodyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let paths: Set<String>
    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard paths.contains(request.uri.path), var scope = RequestScope.current else { return try await next(request, context) }
        var request = request
        scope.rawBody = try await request.collectBody(upTo: maxBytes)
        return try await RequestScope.$current.withValue(scope) { try await next(request, context) }
    }
}
