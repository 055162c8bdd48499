import Core
import NIOCore

/// What the middleware learned about the request being handled, readable by handlers and log lines alike.
///
/// The generated OpenAPI handlers do not see Hummingbird's request context, so the middleware publishes this as a
/// task-local value around the rest of the chain. A class, made whole before it is published and never changed:
/// each read of the task-local value copies it, and a struct of its dozen references was copied, each retained and
/// released, several times in every authenticated request.
public final class RequestScope: Sendable {
    public let requestID: String
    public let client: ClientInfo
    public let identity: Identity?
    /// Why a bearer token that came with the request was rejected; reported when a route needs an identity.
    public let authError: AppError?
    /// The body as received, for routes whose signature covers its exact bytes (`BodyLimit`).
    public let rawBody: ByteBuffer?

    init(requestID: String, client: ClientInfo, identity: Identity? = nil, authError: AppError? = nil, rawBody: ByteBuffer? = nil) {
        self.requestID = requestID
        self.client = client
        self.identity = identity
        self.authError = authError
        self.rawBody = rawBody
    }

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
