import Core
import HTTPTypes
import Hummingbird

/// Resolves `Authorization: Bearer <token>` into the scope's identity. A rejected token is not an error here: routes
/// that need an identity report why it was rejected (`RequestScope.requireIdentity`). Public routes (`publicPaths`)
/// use no identity, so a token sent to them is not even looked at: a health check costs no database query, and is
/// never rate limited (`RateLimit` applies to an identity).
struct Authentication: Sendable {
    let accounts: Accounts
    let publicPaths: NameSet

    /// The identity of the request's bearer token, or why the token was refused; neither without a token, or on a
    /// public path. Throws only what is no answer about the token (the database failing, say).
    func identify(_ request: Request) async throws -> (identity: Identity?, refusal: AppError?) {
        guard let header = request.headers.value(.authorization), !publicPaths.contains(request.uri.path) else { return (nil, nil) }
        guard let token = Self.bearerToken(header) else {
            return (nil, AppError.unauthorized("invalid_token", "Use the Authorization header as 'Bearer <access_token>'."))
        }
        do {
            return (try await accounts.authenticate(bearer: token), nil)
        } catch let error as AppError {
            return (nil, error)
        }
    }

    /// The token of `Bearer <token>` (the scheme in any case, spaces before the scheme and the token skipped), or nil.
    /// Read over the header's bytes: splitting it as characters walked its 300-odd bytes as graphemes, 4,000
    /// instructions on every authenticated request.
    static func bearerToken(_ header: String) -> String? {
        var header = header
        return header.withUTF8 { bytes -> String? in
            let space = UInt8(ascii: " ")
            let start = bytes.firstIndex { $0 != space } ?? bytes.endIndex
            // Letters only: a byte ORed with 0x20 is `b` only if it was `B` or `b`, and so on.
            guard let end = bytes[start...].firstIndex(of: space), end - start == 6, end + 1 < bytes.endIndex,
                  bytes[start] | 0x20 == UInt8(ascii: "b"), bytes[start + 1] | 0x20 == UInt8(ascii: "e"),
                  bytes[start + 2] | 0x20 == UInt8(ascii: "a"), bytes[start + 3] | 0x20 == UInt8(ascii: "r"),
                  bytes[start + 4] | 0x20 == UInt8(ascii: "e"), bytes[start + 5] | 0x20 == UInt8(ascii: "r") else { return nil }
            let token = bytes[(end + 1)...].firstIndex { $0 != space } ?? bytes.endIndex
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[token...]), as: UTF8.self)
        }
    }
}
