import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Enforces the contract's security: every operation needs an identity unless the spec marks it `security: []`.
/// Runs before the body is decoded, so an unauthenticated caller learns nothing from validation errors.
struct RequireIdentityMiddleware: ServerMiddleware {
    let publicOperations: Set<String>

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if !publicOperations.contains(operationID) {
            _ = try RequestScope.requireIdentity()
        }
        return try await next(request, body, metadata)
    }
}
