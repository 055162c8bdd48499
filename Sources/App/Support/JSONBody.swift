import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore

/// JSON in and out of the routes a blueprint adds (the contract's own routes go through the generated code).
enum JSONBody {
    /// The request's body as JSON: 415 for another media type, 400 `malformed_body` for text that is not JSON.
    static func read(_ request: Request, maxBytes: Int) async throws -> JSONValue {
        let type = request.headers.value(.contentType)?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            throw AppError(status: 415, code: "unsupported_media_type", title: "Unsupported media type",
                           detail: "Send the body as application/json.")
        }
        let buffer = try await request.body.collect(upTo: maxBytes)
        guard let value = JSONValue.parse(Data(buffer.readableBytesView)) else {
            throw AppError.badRequest("The request body is not valid JSON.", code: "malformed_body")
        }
        return value
    }

    static func response(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.jsonString)))
    }
}
