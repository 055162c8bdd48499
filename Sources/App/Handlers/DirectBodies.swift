import API
import Core
import Foundation
import HTTPTypes
import LLM
import OpenAPIRuntime

/// The 200 answers of the hottest operations, written straight to bytes: `GET /health` (every load balancer's probe,
/// every few seconds) and `GET /api/v1/auth/me` (every frontend's "am I logged in" on every page). The generated
/// serializer encodes through Foundation's `JSONEncoder`, whose fixed cost was 19,000 instructions for /health's two
/// members and 27,000 for a user, a tenth of each request.
///
/// `OperationChecksMiddleware` answers with these after its checks, in place of the generated handler; the handlers
/// (`getHealth`, `getMe`) still answer a request whose `Accept` is not one of `acceptedAsIs`, so the generated code
/// keeps judging every other Accept header as it always has.
/// `DirectBodiesTests` hold each body to what the generated serializer writes.
enum DirectBodies {
    /// Accept headers that the generated code lets through to a JSON answer, as whole headers: none, curl's and
    /// fetch's `*/*`, `application/json`, and axios's default. Any other is left to the generated code, which
    /// judges every part of it (and refuses some malformed ones).
    static let acceptedAsIs: Set<String> = ["*/*", "application/json", "application/json, text/plain, */*"]

    static let health: JSONValue = ["status": "ok", "version": .string(Switchboard.version)]

    /// The contract's `User`, as `Components.Schemas.User` encodes it (a nil email or name left out), its members in
    /// `JSONValue`'s sorted order. Written member by member: a `JSONValue` object of the user (a dictionary, sorted,
    /// then written) cost 12,000 instructions a `/me`.
    static func user(_ user: User) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        var object = JSONObjectWriter(taking: &bytes)
        object.date("created_at", user.createdAt)
        object.string("email", user.email)
        object.id("id", user.id)
        object.string("name", user.name)
        object.string("tier", user.tier)
        return object.finished()
    }

    /// The 200 answer to `operationID` when it is written here and the request accepts it as is; nil leaves the
    /// request to the operation's handler.
    static func response(_ request: HTTPRequest, operationID: String) throws -> (HTTPResponse, HTTPBody?)? {
        let body: [UInt8]
        switch operationID {
        case Operations.GetHealth.id: body = health.jsonBytes
        case Operations.GetMe.id: body = user(try RequestScope.requireIdentity().user)
        default: return nil
        }
        if let accept = request.headerFields.value(.accept), !acceptedAsIs.contains(accept) { return nil }
        var response = HTTPResponse(status: .ok)
        response.headerFields.append(HTTPField(name: .contentType, value: "application/json; charset=utf-8"))
        return (response, HTTPBody(body))
    }
}
