import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import OpenAPIRuntime

/// Turns any error into the `AppError` a client sees. The one place where errors become responses: handlers,
/// generated decoding, the router and middleware all end up here.
enum Problem {
    static func appError(for error: any Error, logger: Logger) -> AppError {
        switch error {
        case let error as AppError:
            return error
        case let error as ServerError:
            if let decoding = error.underlyingError as? DecodingError { return appError(for: decoding) }
            if error.underlyingError is AppError || error.underlyingError is HTTPError {
                return appError(for: error.underlyingError, logger: logger)
            }
            switch error.httpStatus.code {
            case 415:
                return AppError(status: 415, code: "unsupported_media_type", title: "Unsupported media type",
                                detail: "Send the body as the Content-Type this route documents (usually application/json).")
            case 400..<500:
                return AppError(status: error.httpStatus.code, code: "bad_request", title: "Bad request", detail: error.causeDescription)
            default:
                return internalError(error.underlyingError, logger: logger)
            }
        case let error as HTTPParserError:
            return HeadWatch.appError(for: error)
        case let error as HTTPError:
            switch error.status.code {
            case 404: return AppError.notFound("route")
            case 405: return AppError(status: 405, code: "method_not_allowed", title: "Method not allowed",
                                      detail: "This route does not accept this method.")
            case 413: return AppError(status: 413, code: "payload_too_large", title: "Payload too large",
                                      detail: "The request body is larger than this server accepts.")
            case 400..<500: return AppError(status: error.status.code, code: "bad_request", title: "Bad request", detail: error.body)
            default: return internalError(error, logger: logger)
            }
        default:
            return internalError(error, logger: logger)
        }
    }

    /// Field errors from the generated decoders: missing, mistyped and unknown fields.
    static func appError(for error: DecodingError) -> AppError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .validation([FieldError(field: path(context.codingPath + [key]), code: "required", message: "is required")])
        case .valueNotFound(_, let context):
            return .validation([FieldError(field: path(context.codingPath), code: "required", message: "must not be null")])
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return .badRequest("The request body must be a JSON object.", code: "malformed_body") }
            return .validation([FieldError(field: path(context.codingPath), code: "invalid_type", message: "must be \(describe(type))")])
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return .badRequest("The request body is not valid JSON.", code: "malformed_body") }
            if context.debugDescription.contains("Additional properties") {
                return .validation([FieldError(field: path(context.codingPath), code: "unknown_field", message: "is not an accepted field")])
            }
            return .validation([FieldError(field: path(context.codingPath), code: "invalid_value", message: "has a value that is not allowed")])
        @unknown default:
            return .badRequest("The request body could not be read.", code: "malformed_body")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "a boolean"
        default: "of another type"
        }
    }

    private static func internalError(_ error: any Error, logger: Logger) -> AppError {
        logger.error("unhandled error", metadata: ["error_type": "\(type(of: error))", "error": "\(error)"])
        return AppError(status: 500, code: "internal_error", title: "Internal server error",
                        detail: "Something went wrong on our side. Quote the request id when reporting it.")
    }

    /// The problem document for `error`, as a response.
    static func response(for error: AppError, requestID: String) -> Response {
        let document = Document(
            type: "urn:switchboard:problem:\(error.code)", title: error.title, status: error.status, detail: error.detail,
            code: error.code, requestID: requestID,
            errors: error.fieldErrors.isEmpty ? nil : error.fieldErrors.map { .init(field: $0.field, code: $0.code, message: $0.message) },
            extensions: error.extensions)
        let data = (try? encoder.encode(document)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if error.status == 401 {
            headers[.wwwAuthenticate] = error.code == "unauthorized" || error.code == "invalid_credentials"
                ? "Bearer realm=\"switchboard\"" : "Bearer realm=\"switchboard\", error=\"invalid_token\""
        }
        return Response(status: .init(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// RFC 9457 members, ours (`code`, `request_id`, `errors`), and any extension members such as OAuth2's `error`.
    private struct Document: Encodable {
        struct Field: Encodable {
            let field: String
            let code: String
            let message: String
        }

        let type: String
        let title: String
        let status: Int
        let detail: String?
        let code: String
        let requestID: String
        let errors: [Field]?
        let extensions: [String: String]

        private struct Key: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(_ string: String) { stringValue = string }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(type, forKey: Key("type"))
            try container.encode(title, forKey: Key("title"))
            try container.encode(status, forKey: Key("status"))
            try container.encodeIfPresent(detail, forKey: Key("detail"))
            try container.encode(code, forKey: Key("code"))
            try container.encode(requestID, forKey: Key("request_id"))
            try container.encodeIfPresent(errors, forKey: Key("errors"))
            let reserved: Set = ["type", "title", "status", "detail", "code", "request_id", "errors"]
            for (key, value) in extensions where !reserved.contains(key) {
                try container.encode(value, forKey: Key(key))
            }
        }
    }
}
