import Core
import NIOCore

/// What the middleware learned about the request being handled, readable by handlers and log lines alike.
///
/// The generated OpenAPI handlers do not see Hummingbird's request context, so the middleware publishes this as a
/// task-local value around the rest of the chain.
public struct RequestScope: Sendable {
    public let requestID: String
    public var client: ClientInfo
    public var identity: Identity?
    /// Why a bearer token that came with the request was rejected; reported when a route needs an identity.
    public var authError: AppError?
    /// The body as received, for routes whose signature covers its exact bytes (`BodyLimit`).
    public var rawBody: ByteBuffer?

    @TaskLocal public static var current: RequestScope?

    /// The caller's identity, or the 401 that explains why there is none.
    static func requireIdentity() throws -> Identity {
        guard let scope = current else { throw AppError.unauthorized() }
        if let identity = scope.identity { return identity }
        throw scope.authError ?? AppError.unauthorized()
    }

    static var client: ClientInfo {
        current?.client ?? ClientInfo(address: "unknown", userAgent: nil)
    }
}
