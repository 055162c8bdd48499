import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The Ed25519 key that signs access tokens.
public struct SigningKey: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey
    /// Key id: the start of the public key's SHA-256, so that it changes when the key does.
    public let kid: String

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.kid = String(Data(SHA256.hash(data: privateKey.publicKey.rawRepresentation)).base64URLEncoded().prefix(16))
    }

    /// From configuration: the 32-byte private key, base64 or base64url.
    public init(base64 text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let raw = Data(base64Encoded: trimmed) ?? Data(base64URLEncoded: trimmed), raw.count == 32 else {
            throw SigningKeyError.malformed("auth.jwt_private_key must be a base64-encoded 32-byte Ed25519 private key")
        }
        self.init(privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: raw))
    }

    /// Reads the key file, or creates it (mode 0600) on first run.
    public static func loadOrCreate(path: String) throws -> SigningKey {
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw SigningKeyError.unreadable(path)
            }
            return try SigningKey(base64: text)
        }
        let key = SigningKey(privateKey: Curve25519.Signing.PrivateKey())
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        // O_EXCL: if another process created it meanwhile, use theirs rather than overwrite it.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return try loadOrCreate(path: path) }
            throw SigningKeyError.unwritable(path)
        }
        defer { close(fd) }
        let text = key.privateKey.rawRepresentation.base64EncodedString() + "\n"
        let written = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == text.utf8.count else { throw SigningKeyError.unwritable(path) }
        return key
    }

    /// The public half as a JWK, for `/.well-known/jwks.json`.
    public var publicJWK: [String: String] {
        ["kty": "OKP", "crv": "Ed25519", "x": privateKey.publicKey.rawRepresentation.base64URLEncoded(),
         "kid": kid, "alg": "EdDSA", "use": "sig"]
    }
}

public enum SigningKeyError: Error, CustomStringConvertible {
    case malformed(String)
    case unreadable(String)
    case unwritable(String)

    public var description: String {
        switch self {
        case .malformed(let reason): reason
        case .unreadable(let path): "cannot read the JWT signing key at \(path)"
        case .unwritable(let path): "cannot create the JWT signing key at \(path)"
        }
    }
}
