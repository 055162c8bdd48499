import Foundation
import HTTPTypes
import OpenAPIRuntime

/// The transport (`RouterTransport`) always hands the generated code a body, empty or not; an empty one must count as
/// no body, or a route whose body is optional (logout) fails to decode "" as JSON. Bodies are already buffered and
/// capped by `BodyLimitMiddleware`, so reading them here costs nothing more.
struct EmptyBodyMiddleware: ServerMiddleware {
    let maxBytes: Int

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard let body else { return try await next(request, nil, metadata) }
        if case .known(let length) = body.length {
            return try await next(request, length == 0 ? nil : body, metadata)
        }
        let bytes = try await [UInt8](collecting: body, upTo: maxBytes)
        return try await next(request, bytes.isEmpty ? nil : HTTPBody(bytes), metadata)
    }
}
