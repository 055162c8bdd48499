import Connectors
import Core
import Foundation
import LLM
import Logging
import NIOPosix
import Storage
import Vault

/// The vault's key provider from settings, and the start-up check that every key the stored secrets need is there.
enum VaultSetup {
    static func keyProvider(_ settings: Settings) async throws -> any KeyProvider {
        do {
            switch settings.vault.provider {
            case .local:
                if let key = settings.vault.masterKey {
                    return try LocalKeyring(active: key, previous: settings.vault.previousMasterKeys)
                }
                // File locks and fsyncs block their thread (the lock for as long as another process rotates): not
                // one of the few that run every task.
                let path = settings.keyringPath
                return try await NIOThreadPool.singleton.runIfActive { try LocalKeyring(path: path) }
            case .gcpKMS:
                guard let path = settings.vault.kmsCredentialsFile, let keyName = settings.vault.kmsKey,
                      let data = FileManager.default.contents(atPath: path), let json = JSONValue.parse(data),
                      let account = try? GoogleServiceAccount(json: json) else {
                    throw StartupError(message: "vault.kms_credentials_file: cannot read a service-account key")
                }
                return GoogleKMSKeyProvider(keyName: keyName, previousKeys: settings.vault.previousKMSKeys, account: account,
                                            baseURL: settings.vault.kmsURL, tokenURL: settings.connectors.googleTokenURL)
            }
        } catch let error as VaultKeyError {
            throw StartupError(message: error.description)
        }
    }

    /// Refuses to start when a stored secret depends on a key that is not available (a lost keyring, a key left out
    /// of the configuration): better no server than secrets that silently cannot be read.
    static func checkKeys(_ integrations: Integrations) async throws {
        for keyID in try await integrations.keyIDsInUse() where await !integrations.vault.provider.canUnwrap(keyID: keyID) {
            throw StartupError(message: "stored secrets are protected by the vault key '\(keyID)', which is not available: restore the "
                                        + "keyring file, or list the key in vault.previous_master_keys / vault.previous_kms_keys")
        }
    }
}

/// `switchboard keys rotate`: a new master key becomes active (for the keyring file; configured and KMS keys are
/// changed in configuration first), then every data key wrapped by another key is re-wrapped under it. Old keys stay,
/// so secrets remain readable throughout; no plaintext secret is produced.
public enum KeyRotation {
    public struct Outcome: Sendable {
        public let activeKeyID: String
        public let newKey: Bool
        public let rewrapped: Int
    }

    public static func run(settings: Settings, logger: Logger) async throws -> Outcome {
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        do {
            try await Migrator(database: database, migrations: Schema.migrations, logger: logger).migrate()
            let provider = try await VaultSetup.keyProvider(settings)
            var newKey = false
            if let keyring = provider as? LocalKeyring, settings.vault.masterKey == nil {
                _ = try await NIOThreadPool.singleton.runIfActive { try keyring.rotate() }
                newKey = true
            }
            let integrations = Integrations(database: database, vault: Vault(provider: provider), clock: .system)
            try await VaultSetup.checkKeys(integrations)
            let count = try await integrations.rewrapAll(logger: logger)
            let active = try await provider.activeKeyID()
            try await database.close()
            return Outcome(activeKeyID: active, newKey: newKey, rewrapped: count)
        } catch {
            try? await database.close()
            throw error
        }
    }
}
