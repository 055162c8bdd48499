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
/// (`getHealth`, `getMe`) still answer when the request names an `Accept` other than none, `*/*` or
/// `application/json`, so the generated code keeps judging every other Accept header as it always has.
/// `DirectBodiesTests` hold each body to what the generated serializer writes.
enum DirectBodies {
    /// The JSON of an operation's 200 answer; nil leaves the operation to its handler.
    static func body(operationID: String) throws -> JSONValue? {
        switch operationID {
        case Operations.GetHealth.id: health
        case Operations.GetMe.id: try RequestScope.requireIdentity().user.json
        default: nil
        }
    }

    static let health: JSONValue = ["status": "ok", "version": .string(Switchboard.version)]

    /// The answer to `operationID`, when it is written here and the request accepts JSON without more ado.
    static func response(_ request: HTTPRequest, operationID: String) throws -> (HTTPResponse, HTTPBody?)? {
        if let accept = request.headerFields.value(.accept), accept != "*/*", accept != "application/json" { return nil }
        guard let body = try body(operationID: operationID) else { return nil }
        var response = HTTPResponse(status: .ok)
        response.headerFields.append(HTTPField(name: .contentType, value: "application/json; charset=utf-8"))
        return (response, HTTPBody(body.jsonBytes))
    }
}

extension User {
    /// The contract's `User`, as `Components.Schemas.User` encodes it: a nil email or name is left out.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id.lowercased), "tier": .string(tier), "created_at": .string(RFC3339.format(createdAt, fractionalDigits: 0)),
        ]
        if let email { object["email"] = .string(email) }
        if let name { object["name"] = .string(name) }
        return .object(object)
    }
}
