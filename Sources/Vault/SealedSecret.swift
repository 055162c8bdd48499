import Foundation

/// A secret as stored: the ciphertext and the data key that encrypts it, wrapped by a key-encryption key.
///
/// Format version 1: a fresh random 256-bit data key per secret; AES-256-GCM with a random 12-byte nonce;
/// `ciphertext` is nonce || ciphertext || tag; the additional authenticated data binds the ciphertext to its owner,
/// record and kind (`SecretContext`), so a ciphertext copied to another row fails to open. `keyID` names the
/// key-encryption key that wrapped the data key.
public struct SealedSecret: Sendable, Equatable {
    public static let currentVersion = 1
    public let version: Int
    public let keyID: String
    public let wrappedKey: Data
    public let ciphertext: Data

    public init(version: Int = SealedSecret.currentVersion, keyID: String, wrappedKey: Data, ciphertext: Data) {
        self.version = version
        self.keyID = keyID
        self.wrappedKey = wrappedKey
        self.ciphertext = ciphertext
    }
}

/// What a secret belongs to. It is authenticated with the ciphertext: opening it under any other context fails.
public struct SecretContext: Sendable, Equatable {
    public let owner: String
    public let recordID: String
    public let kind: String

    public init(owner: String, recordID: String, kind: String) {
        self.owner = owner
        self.recordID = recordID
        self.kind = kind
    }

    var authenticatedData: Data {
        Data("switchboard-vault:v1|owner=\(owner)|record=\(recordID)|kind=\(kind)".utf8)
    }
}

public enum VaultError: Error, Equatable, CustomStringConvertible {
    /// The ciphertext, its key or its context do not match: tampered, moved to another row, or the wrong key.
    case decryptionFailed
    /// The key that wrapped this secret is not available (a lost or unconfigured key).
    case unknownKey(String)
    case unsupportedVersion(Int)
    /// The key provider refused or failed (KMS unreachable...).
    case keyProviderFailed(String)

    public var description: String {
        switch self {
        case .decryptionFailed: "the secret could not be decrypted (tampered, moved, or the wrong key)"
        case .unknownKey(let id): "the key '\(id)' that protects this secret is not available"
        case .unsupportedVersion(let version): "unsupported secret format version \(version)"
        case .keyProviderFailed(let reason): "the key provider failed: \(reason)"
        }
    }
}
