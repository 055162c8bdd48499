import Foundation
import JWTKit

/// The claims of a Switchboard access token.
struct AccessClaims: JWTPayload, Equatable {
    let iss: String
    let aud: String
    let sub: String
    /// The session the token was minted for: checked on every request, so logout takes effect at once.
    let sid: String
    /// Unique per token: two tokens minted in the same second for one session are still different tokens.
    let jti: String
    let iat: Int64
    let exp: Int64

    // Expiry, issuer and audience are checked by `AccessTokens.verify` against the injected clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// What a verified access token grants: its user and session, parsed once and kept with the token
/// (`TokenCache`), with the ids as the database stores them, so that a request presenting it again neither parses
/// nor writes an id before the session look-up.
struct AccessGrant: Sendable {
    let sessionID: UUID
    /// The user's id, for the user the session look-up returns: the look-up matches it, so its row's id is not parsed.
    let userID: UUID
    /// The user's id and `sessionID` as stored (`UUID.lowercased`), for the session look-up's binds.
    let userIDText: String
    let sessionIDText: String
    let exp: Int64
}

/// Mints and verifies access tokens: short-lived EdDSA JWTs.
public final class AccessTokens: Sendable {
    private let keys: JWTKeyCollection
    public let signingKey: SigningKey
    let issuer: String
    let audience: String
    let ttlSeconds: Int
    let clock: WallClock
    private let cache = TokenCache<AccessGrant>()

    public init(signingKey: SigningKey, issuer: String, audience: String, ttlSeconds: Int, clock: WallClock) async {
        self.signingKey = signingKey
        self.issuer = issuer
        self.audience = audience
        self.ttlSeconds = ttlSeconds
        self.clock = clock
        self.keys = JWTKeyCollection()
        await keys.add(eddsa: EdDSA.PrivateKey(backing: signingKey.privateKey), kid: JWKIdentifier(string: signingKey.kid))
    }

    func issue(userID: UUID, sessionID: UUID) async throws -> (token: String, expiresAt: Date) {
        let now = clock.now
        let expiresAt = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + Double(ttlSeconds)).rounded(.down))
        let claims = AccessClaims(iss: issuer, aud: audience, sub: userID.lowercased, sid: sessionID.lowercased,
                                  jti: Random.token(bytes: 16), iat: Int64(now.timeIntervalSince1970), exp: Int64(expiresAt.timeIntervalSince1970))
        var header = JWTHeader()
        header.typ = "at+jwt"
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: signingKey.kid), header: header)
        return (token, expiresAt)
    }

    /// What the token grants, its signature and claims checked, or 401 `invalid_token` / `token_expired`; kept in the
    /// cache for `verifiedBefore`.
    func verify(_ token: String) async throws -> AccessGrant {
        guard let header = JOSEHeader(token: token), header.alg == "EdDSA", header.kid == signingKey.kid else {
            throw AppError.unauthorized("invalid_token", "The access token is malformed or not signed by this server.")
        }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch {
            throw AppError.unauthorized("invalid_token", "The access token's signature or claims are invalid.")
        }
        guard claims.iss == issuer, claims.aud == audience else {
            throw AppError.unauthorized("invalid_token", "The access token was issued for another issuer or audience.")
        }
        guard let userID = UUID.parse(claims.sub), let sessionID = UUID.parse(claims.sid) else {
            throw AppError.unauthorized("invalid_token", "The access token's claims are invalid.")
        }
        let grant = AccessGrant(sessionID: sessionID, userID: userID, userIDText: userID.lowercased, sessionIDText: sessionID.lowercased, exp: claims.exp)
        let now = clock.now
        if Double(claims.exp) > now.timeIntervalSince1970 {
            cache.put(token, grant, expiresAt: Date(timeIntervalSince1970: Double(claims.exp)), now: now)
        }
        return try Self.unexpired(grant, now: now)
    }

    /// What a token `verify` passed before grants, while it is cached, or 401 `token_expired`; nil for a token not
    /// in the cache, which `verify` must see. Not async: an authenticated request's usual case makes one async call
    /// fewer (its frame and executor check).
    func verifiedBefore(_ token: String) throws -> AccessGrant? {
        let now = clock.now
        return try cache.get(token, now: now).map { try Self.unexpired($0, now: now) }
    }

    private static func unexpired(_ grant: AccessGrant, now: Date) throws -> AccessGrant {
        guard Double(grant.exp) > now.timeIntervalSince1970 else {
            throw AppError.unauthorized("token_expired", "The access token has expired; refresh it.")
        }
        return grant
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    public var jwks: [String: [[String: String]]] {
        ["keys": [signingKey.publicJWK]]
    }
}
