import Core
import HTTPTypes
import Hummingbird

/// A route that exists but not with the method used answers 405 with `Allow` (RFC 9110), not 404: the router only
/// knows "not found", so `RequestScopeMiddleware` looks the path up here among the contract's paths (and the few
/// routes outside it) when the router answers 404.
struct AllowedMethods: Sendable {
    /// Path templates split into segments (`{id}` matches any one segment), each with the methods it allows.
    let routes: [(segments: [Substring], allow: String)]

    init(paths: [String: [String]]) {
        routes = paths.map { path, methods in
            (path.split(separator: "/"), methods.map { $0.uppercased() }.sorted().joined(separator: ", "))
        }
    }

    /// 405 `method_not_allowed` with `Allow` when `error` is the router's 404 for a path that exists with other methods.
    func refusal(for error: any Error, path: String, requestID: String) -> Response? {
        guard let error = error as? HTTPError, error.status == .notFound, let allow = allowed(path) else { return nil }
        let refusal = AppError(status: 405, code: "method_not_allowed", title: "Method not allowed",
                               detail: "This route accepts \(allow).")
        var response = Problem.response(for: refusal, requestID: requestID)
        response.headers[.allow] = allow
        return response
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
