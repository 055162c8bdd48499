/// An error a client can act on. The App layer renders it as an RFC 9457 problem document; `code` is the stable
/// machine-readable name clients switch on, `detail` is for people and never holds a secret.
public struct AppError: Error, Sendable, Equatable {
    public let status: Int
    public let code: String
    public let title: String
    public let detail: String?
    public var fieldErrors: [FieldError]
    /// Seconds a client should wait before retrying (429, 503): sent as `Retry-After`.
    public var retryAfter: Int?
    /// Extra members of the problem document, e.g. OAuth2's `error` on the token endpoint.
    public var extensions: [String: String] = [:]

    public init(status: Int, code: String, title: String, detail: String? = nil, fieldErrors: [FieldError] = [], retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.fieldErrors = fieldErrors
        self.retryAfter = retryAfter
    }
}

/// One invalid field of a request body: `field` is its JSON name (dotted for nested ones).
public struct FieldError: Sendable, Equatable {
    public let field: String
    public let code: String
    public let message: String

    public init(field: String, code: String, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }
}

extension AppError {
    public static func validation(_ errors: [FieldError]) -> AppError {
        AppError(status: 400, code: "validation_failed", title: "Validation failed",
                 detail: "The request has invalid fields.", fieldErrors: errors)
    }

    public static func badRequest(_ detail: String, code: String = "bad_request") -> AppError {
        AppError(status: 400, code: code, title: "Bad request", detail: detail)
    }

    public static func unauthorized(_ code: String = "unauthorized", _ detail: String = "Authentication is required.") -> AppError {
        AppError(status: 401, code: code, title: "Unauthorized", detail: detail)
    }

    public static let invalidCredentials = AppError(status: 401, code: "invalid_credentials", title: "Unauthorized",
                                                    detail: "The email or password is incorrect.")

    public static func notFound(_ what: String = "resource") -> AppError {
        AppError(status: 404, code: "not_found", title: "Not found", detail: "No such \(what).")
    }

    public static func conflict(_ code: String, _ detail: String) -> AppError {
        AppError(status: 409, code: code, title: "Conflict", detail: detail)
    }

    public static func rateLimited(retryAfter: Int) -> AppError {
        AppError(status: 429, code: "rate_limited", title: "Too many requests",
                 detail: "Too many attempts. Try again in \(retryAfter) seconds.", retryAfter: retryAfter)
    }
}

extension AppError {
    /// A server without Stripe keys has no billing: its billing routes answer 404, as routes of a feature that is
    /// not there (not 503: nothing is down, and retrying will not help).
    public static let billingOff = AppError(status: 404, code: "billing_not_configured", title: "Not found",
                                            detail: "Billing is off on this server: it has no Stripe keys configured.")
}
