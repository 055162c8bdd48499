import Core
import HTTPTypes
import Hummingbird

/// A route that exists but not with the method used answers 405 with `Allow` (RFC 9110), not 404: the router only
/// knows "not found", so this looks the path up among the contract's paths (and the few routes outside it).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    /// Path templates split into segments (`{id}` matches any one segment), each with the methods it allows.
    let routes: [(segments: [Substring], allow: String)]

    init(paths: [String: [String]]) {
        routes = paths.map { path, methods in
            (path.split(separator: "/"), methods.map { $0.uppercased() }.sorted().joined(separator: ", "))
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allow = allowed(request.uri.path) else { throw error }
            let refusal = AppError(status: 405, code: "method_not_allowed", title: "Method not allowed",
                                   detail: "This route accepts \(allow).")
            var response = Problem.response(for: refusal, requestID: RequestScope.current?.requestID ?? "")
            response.headers[.allow] = allow
            return response
        }
    }

    /// The methods of the template that matches the path most literally (`/tips/aggregate` before `/tips/{id}`).
    private func allowed(_ path: String) -> String? {
        let segments = path.split(separator: "/")
        return routes.filter { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { template, segment in template.first == "{" || template == segment }
        }.max { $0.segments.filter { $0.first != "{" }.count < $1.segments.filter { $0.first != "{" }.count }?.allow
    }
}
