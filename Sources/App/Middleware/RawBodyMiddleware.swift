import Hummingbird
import NIOCore

/// Keeps the exact bytes of a request whose signature covers them (Stripe's webhook): the generated handler only sees
/// the decoded JSON, and a signature is only valid over the raw payload.
struct RawBodyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let paths: Set<String>
    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard paths.contains(request.uri.path), let scope = RequestScope.current else { return try await next(request, context) }
        let (collected, withBody) = try await collected(request, scope: scope)
        return try await RequestScope.$current.withValue(withBody) { try await next(collected, context) }
    }

    /// The request with its body read into memory, and the scope holding those bytes; out of line (see
    /// `AuthenticationMiddleware.authenticated`).
    @inline(never)
    func collected(_ request: Request, scope: RequestScope) async throws -> (Request, RequestScope) {
        var request = request
        var scope = scope
        scope.rawBody = try await request.collectBody(upTo: maxBytes)
        return (request, scope)
    }
}
