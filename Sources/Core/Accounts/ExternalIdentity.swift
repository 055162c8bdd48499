import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore

/// The claims Switchboard reads from an external identity provider's token.
struct ExternalClaims: JWTPayload {
    let iss: IssuerClaim?
    let sub: SubjectClaim?
    let aud: AudienceClaim?
    let exp: ExpirationClaim?
    let nbf: NotBeforeClaim?
    let email: String?

    // Checked by `ExternalKeySet.verify` against the configured issuer and audience and the injected clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The identity provider's public keys, fetched from its JWKS URL, cached, and fetched again when they go stale
/// or a token names a key id not seen yet (at most once per `jwksMinRefreshSeconds`).
actor ExternalKeySet {
    private let settings: ExternalIdentitySettings
    private let httpClient: HTTPClient
    private let clock: WallClock
    private var keys: JWTKeyCollection?
    private var jwks: JWKS?
    private var fetchedAt: Date?
    private var inFlight: Task<Void, any Error>?
    private let cache = TokenCache<ExternalClaims>()
    /// Clock skew tolerated on `exp` and `nbf`.
    private let leewaySeconds: Double = 60

    init(settings: ExternalIdentitySettings, httpClient: HTTPClient, clock: WallClock) {
        self.settings = settings
        self.httpClient = httpClient
        self.clock = clock
    }

    /// The verified subject and email, or 401 `invalid_token` / `token_expired`.
    func verify(_ token: String) async throws -> ExternalClaims {
        let now = clock.now
        let claims: ExternalClaims
        if let cached = cache.get(token, now: now) {
            claims = cached
        } else {
            claims = try await verifySignature(token, now: now)
            guard claims.sub?.value.isEmpty == false else {
                throw AppError.unauthorized("invalid_token", "The token has no subject.")
            }
            guard claims.iss?.value == settings.issuer else {
                throw AppError.unauthorized("invalid_token", "The token was issued by another issuer.")
            }
            guard claims.aud?.value.contains(settings.audience) == true else {
                throw AppError.unauthorized("invalid_token", "The token was issued for another audience.")
            }
            if let nbf = claims.nbf?.value, nbf.timeIntervalSince(now) > leewaySeconds {
                throw AppError.unauthorized("invalid_token", "The token is not valid yet.")
            }
            guard let exp = claims.exp?.value else {
                throw AppError.unauthorized("invalid_token", "The token has no expiry.")
            }
            if exp.addingTimeInterval(leewaySeconds) > now {
                cache.put(token, claims, expiresAt: exp.addingTimeInterval(leewaySeconds), now: now)
            }
        }
        guard let exp = claims.exp?.value, exp.addingTimeInterval(leewaySeconds) > now else {
            throw AppError.unauthorized("token_expired", "The token has expired.")
        }
        return claims
    }

    private func verifySignature(_ token: String, now: Date) async throws -> ExternalClaims {
        guard let header = JOSEHeader(token: token), let alg = header.alg, settings.algorithms.contains(alg) else {
            throw AppError.unauthorized("invalid_token", "The token is malformed or uses an algorithm that is not allowed.")
        }
        let stale = fetchedAt.map { now.timeIntervalSince($0) > settings.jwksCacheSeconds } ?? true
        let unknownKid = header.kid.map { kid in jwks?.find(identifier: kid)?.isEmpty ?? true } ?? false
        let mayRefetch = fetchedAt.map { now.timeIntervalSince($0) >= settings.jwksMinRefreshSeconds } ?? true
        if stale || (unknownKid && mayRefetch) {
            do {
                try await refresh()
            } catch where keys != nil {
                // Keep using the keys we have when the provider is briefly unreachable.
            } catch {
                throw AppError(status: 503, code: "identity_provider_unavailable", title: "Service unavailable",
                               detail: "The identity provider's keys could not be fetched.", retryAfter: 5)
            }
        }
        guard let keys, let jwks else { throw AppError.unauthorized("invalid_token", "No keys to verify the token.") }
        if let kid = header.kid {
            // A key that names its algorithm may only be used with that algorithm.
            guard let jwk = jwks.find(identifier: kid)?.first else {
                throw AppError.unauthorized("invalid_token", "The token is signed with an unknown key.")
            }
            if let keyAlg = jwk.algorithm?.rawValue, keyAlg != alg {
                throw AppError.unauthorized("invalid_token", "The token's algorithm does not match its key.")
            }
        }
        do {
            return try await keys.verify(token, as: ExternalClaims.self)
        } catch {
            throw AppError.unauthorized("invalid_token", "The token's signature or claims are invalid.")
        }
    }

    /// One fetch at a time; concurrent callers wait for the same one.
    private func refresh() async throws {
        if let inFlight {
            return try await inFlight.value
        }
        let task = Task { try await self.fetch() }
        inFlight = task
        defer { inFlight = nil }
        try await task.value
    }

    private func fetch() async throws {
        var request = HTTPClientRequest(url: settings.jwksURL)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await httpClient.execute(request, timeout: .seconds(10))
        guard response.status == .ok else { throw AppError.badRequest("JWKS answered \(response.status.code)") }
        let body = try await response.body.collect(upTo: 1 << 20)
        let set = try JSONDecoder().decode(JWKS.self, from: Data(body.readableBytesView))
        let collection = JWTKeyCollection()
        for jwk in set.keys where jwk.keyIdentifier != nil {
            // Skip keys jwt-kit cannot use (e.g. encryption keys) rather than reject the whole set.
            _ = try? await collection.add(jwk: jwk)
        }
        keys = collection
        jwks = set
        fetchedAt = clock.now
    }
}
