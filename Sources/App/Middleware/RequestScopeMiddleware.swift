import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Our middleware, in one layer: each layer of the router's chain costs async frames on every request. It gives the
/// request its id (the client's `X-Request-ID` when well-formed) and resolves the client address; on the API router
/// (`Intake`) it reads the body (`BodyLimit`), resolves the bearer token (`Authentication`) and holds an identity to
/// its tier's rate (`RateLimit`). It publishes the `RequestScope`, renders any error as a problem document (the
/// router's 404 for a path that exists with other methods as 405, `AllowedMethods`), echoes the id, keeps an event
/// stream out of caches and proxy buffers (`Cache-Control: no-cache`, `X-Accel-Buffering: no`, which nginx honours)
/// and writes one access-log line (`AccessLog`). Paths are logged without their query; headers and bodies never.
struct RequestScopeMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let addresses: ClientAddressResolver
    let logger: Logger
    let access: AccessLog
    /// What the API router does before its routes; nil on the WebSocket router, whose sockets authenticate themselves.
    let intake: Intake?

    struct Intake: Sendable {
        let allowedMethods: AllowedMethods
        let bodyLimit: BodyLimit
        let authentication: Authentication
        let rateLimit: RateLimit?
    }

    init(addresses: ClientAddressResolver, logger: Logger, intake: Intake? = nil) {
        self.addresses = addresses
        self.logger = logger
        self.intake = intake
        access = AccessLog(logger: logger)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = request.headers.value(.requestID).flatMap(Self.acceptable) ?? RequestIDs.next()
        let client = ClientInfo(
            address: addresses.resolve(peer: ClientAddressResolver.text(of: context.remoteAddress), forwardedFor: request.headers.value(.xForwardedFor)),
            userAgent: request.headers.value(.userAgent)
        )
        var request = request, context = context
        // The body is read and the token resolved before the scope is published, so that it is published once and
        // whole (nothing on that path logs); a failure is answered inside it, where its log line has the request id.
        var failure: (any Error)?
        var rawBody: ByteBuffer?, identity: Identity?, refusal: AppError?
        let unreadable = intake == nil ? nil : HeadWatch.problem(in: request)
        if let unreadable {
            failure = unreadable
        } else if let intake {
            do {
                rawBody = try await intake.bodyLimit.read(&request, into: &context)
                (identity, refusal) = try await intake.authentication.identify(request)
            } catch {
                failure = error
            }
        }
        let scope = RequestScope(requestID: requestID, client: client, identity: identity, authError: refusal, rawBody: rawBody)
        let (admitted, admittedContext) = (request, context)
        return await RequestScope.$current.withValue(scope) {
            var response: Response
            do {
                if let failure { throw failure }
                if let rateLimit = intake?.rateLimit, let identity = scope.identity {
                    response = try await rateLimit.respond(identity, requestID: requestID) { try await next(admitted, admittedContext) }
                } else {
                    response = try await next(admitted, admittedContext)
                }
            } catch {
                response = intake?.allowedMethods.refusal(for: error, path: admitted.uri.path, requestID: requestID)
                    ?? Problem.response(for: Problem.appError(for: error, logger: logger), requestID: requestID)
            }
            // Appended: no route sets it, and the subscript's setter looks for fields to replace first.
            response.headers.append(HTTPField(name: .requestID, value: requestID))
            if unreadable != nil { response.headers.append(HTTPField(name: .connection, value: "close")) }
            if response.headers.value(.contentType)?.hasPrefix("text/event-stream") == true {
                response.headers[.cacheControl] = "no-cache"
                response.headers[.xAccelBuffering] = "no"
            }
            let elapsed = (ContinuousClock.now - started).components
            access.write(method: admitted.method.rawValue, path: admitted.uri.path, status: response.status.code,
                         durationMicros: elapsed.seconds * 1_000_000 + (elapsed.attoseconds + 500_000_000_000) / 1_000_000_000_000,
                         client: client.address)
            return response
        }
    }

    /// Up to 128 characters of `[A-Za-z0-9._:-]`: anything else is replaced, so logs cannot be forged through it.
    static func acceptable(_ id: String) -> String? {
        guard (1...128).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._:-".contains($0)) }) else {
            return nil
        }
        return id
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-ID")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
