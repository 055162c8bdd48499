import HTTPTypes
import Hummingbird

/// CORS for the origins in `http.cors_origins` (`*` for any). Preflight requests are answered here.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers.value(.origin), origins.contains("*") || origins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers.value(.accessControlRequestMethod) != nil {
            var response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, X-Request-ID, Idempotency-Key"
            response.headers[.accessControlMaxAge] = "600"
            allow(origin, in: &response)
            return response
        }
        var response = try await next(request, context)
        allow(origin, in: &response)
        return response
    }

    private func allow(_ origin: String, in response: inout Response) {
        // Echo the origin rather than `*`, and say the answer varies by origin so caches keep them apart.
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
        response.headers.append(HTTPField(name: .vary, value: "Origin"))
    }
}
