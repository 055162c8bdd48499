import Crypto
import Foundation

/// Wraps and unwraps data keys with a key-encryption key: a local master key, or a cloud KMS key. Plaintext data keys
/// never leave the process; only wrapped ones are stored.
public protocol KeyProvider: Sendable {
    /// The key new secrets are wrapped with.
    func activeKeyID() async throws -> String
    func wrap(_ dataKey: SymmetricKey) async throws -> (keyID: String, wrapped: Data)
    func unwrap(_ wrapped: Data, keyID: String) async throws -> SymmetricKey
    /// Whether `keyID` can be unwrapped here (checked at start-up for every key the store uses).
    func canUnwrap(keyID: String) async -> Bool
}
