import Core
import HTTPTypes
import Hummingbird

/// Reads the body whole, refusing it with 413 over the limit: at once when `Content-Length` says so, otherwise while
/// reading. Some routes have limits of their own (`overrides`, by `"METHOD /path"`, or `"METHOD /path/"` for every
/// path below it): a larger one, or nil for a route that streams its body and bounds it itself. On `rawBodyPaths`
/// (routes whose signature covers the body's exact bytes) the body is also published as `RequestScope.rawBody`.
struct BodyLimit: Sendable {
    let maxBytes: Int
    var overrides: [String: Int?] = [:]
    var rawBodyPaths: NameSet = []

    /// Reads the body into `context.body`, unless the route streams it; returns it on a raw-body path (for
    /// `RequestScope.rawBody`).
    func read(_ request: inout Request, into context: inout AppRequestContext) async throws -> ByteBuffer? {
        var limit: Int? = maxBytes
        if !overrides.isEmpty {
            let route = request.method.rawValue + " " + request.uri.path
            if let own = overrides[route] {
                limit = own
            } else if let slash = route.lastIndex(of: "/"), let own = overrides[String(route[...slash])] {
                limit = own
            }
        }
        guard let limit else { return nil }
        if let length = request.headers.value(.contentLength).flatMap(Self.length), length > limit {
            throw HTTPError(.contentTooLarge)
        }
        let body = try await request.collectBody(upTo: limit)
        context.body = body
        return rawBodyPaths.contains(request.uri.path) ? body : nil
    }

    /// Digits past `Int.max` (NIO's parser lets a length through up to 2^64 - 1) are more than any limit: refused at
    /// once, not after waiting for a body that will never come.
    static func length(_ text: String) -> Int? {
        Int(text) ?? (!text.isEmpty && text.utf8.allSatisfy { (48...57).contains($0) } ? .max : nil)
    }
}
