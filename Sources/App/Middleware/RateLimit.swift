import Core
import HTTPTypes
import Hummingbird

/// Per-user request limits by tier (GCRA), for every authenticated request to a route that needs an identity: 429
/// with `Retry-After` beyond the tier's rate, and `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on
/// every answer. The tier and seats come from the database with the identity, so a plan change applies to the next
/// request. Public routes are never limited, token or not: `Authentication` gives them no identity.
struct RateLimit: Sendable {
    let limiter: any RateLimiter
    let plans: Plans
    let clock: WallClock

    /// `next`'s response with the limit's headers, or 429 without calling it.
    func respond(_ identity: Identity, requestID: String, next: () async throws -> Response) async throws -> Response {
        let decision = try await Self.acquire(limiter, for: identity.user, plans: plans, clock: clock)
        var response: Response
        if decision.allowed {
            response = try await next()
        } else {
            response = Problem.response(for: Self.refusal(decision), requestID: requestID)
        }
        // Appended: no route sets them, and the subscript's setter looks for fields to replace first.
        response.headers.append(HTTPField(name: .rateLimitLimit, value: String(decision.limit)))
        response.headers.append(HTTPField(name: .rateLimitRemaining, value: String(decision.remaining)))
        response.headers.append(HTTPField(name: .rateLimitReset, value: String(decision.resetSeconds)))
        return response
    }

    /// One request (or WebSocket chat frame) of `user` against their tier's rate.
    static func acquire(_ limiter: any RateLimiter, for user: User, plans: Plans, clock: WallClock) async throws -> RateLimitDecision {
        let rate = plans.requestsPerMinute(tier: user.tier, seats: user.seats), now = clock.now
        if let decision = limiter.acquireInProcess(user: user.id, rate: rate, now: now) { return decision }
        return try await limiter.acquire(user: user.id, rate: rate, now: now)
    }

    /// 429 `rate_limited`, saying when to come back.
    static func refusal(_ decision: RateLimitDecision) -> AppError {
        let retry = decision.retryAfterSeconds ?? 1
        return AppError(status: 429, code: "rate_limited", title: "Too many requests",
                        detail: "Your plan allows \(decision.limit) requests a minute; try again in \(retry) s.", retryAfter: retry)
    }
}

extension HTTPField.Name {
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
}
