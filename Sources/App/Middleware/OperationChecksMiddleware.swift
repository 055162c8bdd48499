import API
import Agents
import Foundation
import HTTPTypes
import OpenAPIRuntime

/// What the generated operations are checked against before their body is decoded, in this order:
/// - an identity, unless the contract marks the operation `security: []`: an unauthenticated caller learns nothing
///   from validation errors;
/// - the API-key scope and the plan's feature (`AccessRules`);
/// - the query parameters' bounds (`QueryValidation`);
/// - and an empty body counts as no body, or a route whose body is optional (logout) fails to decode "" as JSON.
/// After them the hottest operations are answered here with bodies written as bytes (`DirectBodies`), and a streamed
/// `sendMessage` in the form chat frontends send is read and started here (`DirectTurns`).
///
/// One middleware rather than one for each: every layer of OpenAPIRuntime's middleware chain costs a closure, async
/// frames and error mapping on every request, and these checks need none of it.
struct OperationChecksMiddleware: ServerMiddleware {
    let publicOperations: NameSet
    let access: AccessRules
    let query: QueryValidation
    let maxBytes: Int
    /// Starts the turns `DirectTurns` reads.
    let orchestrator: Orchestrator

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if !publicOperations.contains(operationID) {
            _ = try RequestScope.requireIdentity()
        }
        try access.check(operationID: operationID)
        try query.check(request, operationID: operationID)
        if let response = try DirectBodies.response(request, operationID: operationID) { return response }
        // The transport (`RouterTransport`) hands over a body `BodyLimit` has read as bytes of known length,
        // nil when empty; one it has not read (a route that bounds its own body) comes as a stream, and is read here.
        guard let body else { return try await next(request, nil, metadata) }
        if case .known(let length) = body.length, operationID != Operations.SendMessage.id {
            return try await next(request, length == 0 ? nil : body, metadata)
        }
        let bytes = try await [UInt8](collecting: body, upTo: maxBytes)
        if operationID == Operations.SendMessage.id,
           let response = try await DirectTurns.response(request, body: bytes, metadata: metadata, orchestrator: orchestrator) {
            return response
        }
        return try await next(request, bytes.isEmpty ? nil : HTTPBody(bytes), metadata)
    }
}
