import Crypto
import Foundation

/// Envelope encryption: every secret gets its own data key, and only that data key, wrapped by the key provider,
/// is stored beside the ciphertext.
public struct Vault: Sendable {
    public let provider: any KeyProvider

    public init(provider: any KeyProvider) {
        self.provider = provider
    }

    public func seal(_ plaintext: Data, context: SecretContext) async throws -> SealedSecret {
        let dataKey = SymmetricKey(size: .bits256)
        let box = try AES.GCM.seal(plaintext, using: dataKey, nonce: AES.GCM.Nonce(), authenticating: context.authenticatedData)
        guard let combined = box.combined else { throw VaultError.decryptionFailed }
        let (keyID, wrapped) = try await provider.wrap(dataKey)
        return SealedSecret(keyID: keyID, wrappedKey: wrapped, ciphertext: combined)
    }

    public func open(_ sealed: SealedSecret, context: SecretContext) async throws -> Data {
        guard sealed.version == SealedSecret.currentVersion else { throw VaultError.unsupportedVersion(sealed.version) }
        let dataKey = try await provider.unwrap(sealed.wrappedKey, keyID: sealed.keyID)
        do {
            return try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed.ciphertext), using: dataKey,
                                    authenticating: context.authenticatedData)
        } catch {
            throw VaultError.decryptionFailed
        }
    }

    /// The same secret with its data key wrapped by the active key; the ciphertext is untouched and no plaintext is
    /// produced (only the data key is unwrapped, in memory).
    public func rewrap(_ sealed: SealedSecret) async throws -> SealedSecret {
        let dataKey = try await provider.unwrap(sealed.wrappedKey, keyID: sealed.keyID)
        let (keyID, wrapped) = try await provider.wrap(dataKey)
        return SealedSecret(version: sealed.version, keyID: keyID, wrappedKey: wrapped, ciphertext: sealed.ciphertext)
    }
}
