import Core
import HTTPTypes
import Hummingbird

/// Per-user request limits by tier (GCRA), for every authenticated request: 429 with `Retry-After` beyond the tier's
/// rate, and `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on every answer. The tier and seats come
/// from the database with the identity, so a plan change applies to the next request.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let limiter: any RateLimiter
    let plans: Plans
    let clock: WallClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let scope = RequestScope.current, let identity = scope.identity else { return try await next(request, context) }
        let rate = plans.tier(identity.user.tier).requestsPerMinute(seats: identity.user.seats)
        let decision = try await limiter.acquire(key: "user:" + identity.user.id.lowercased, rate: rate, now: clock.now)
        var response: Response
        if decision.allowed {
            response = try await next(request, context)
        } else {
            let retry = decision.retryAfterSeconds ?? 1
            response = Problem.response(for: AppError(status: 429, code: "rate_limited", title: "Too many requests",
                                                      detail: "Your plan allows \(rate) requests a minute; try again in \(retry) s.",
                                                      retryAfter: retry), requestID: scope.requestID)
        }
        response.headers[.rateLimitLimit] = String(decision.limit)
        response.headers[.rateLimitRemaining] = String(decision.remaining)
        response.headers[.rateLimitReset] = String(decision.resetSeconds)
        return response
    }
}

extension HTTPField.Name {
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
}
