import HTTPTypes
import Hummingbird

/// Event streams must reach the client as they are written: no caching, and no buffering by a proxy (nginx honours
/// `X-Accel-Buffering`).
struct EventStreamMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers.value(.contentType)?.hasPrefix("text/event-stream") == true {
            response.headers[.cacheControl] = "no-cache"
            response.headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        }
        return response
    }
}
