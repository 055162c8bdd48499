import Connectors
import Foundation

/// How customer secrets are protected: a local master key (default) or Google Cloud KMS.
public struct VaultSettings: Sendable {
    public enum Provider: String, Sendable {
        case local
        case gcpKMS = "gcp_kms"
    }

    public var provider = Provider.local
    /// Given by configuration instead of the keyring file (base64, 32 bytes).
    public var masterKey: String?
    /// Older configured keys, still readable (during a rotation).
    public var previousMasterKeys: [String] = []
    /// The keyring file; by default `<data.dir>/vault-keyring.json`.
    public var keyringFile: String?
    public var kmsKey: String?
    public var previousKMSKeys: [String] = []
    public var kmsCredentialsFile: String?
    public var kmsURL = "https://cloudkms.googleapis.com"

    public init() {}
}

/// The keys `vault.*`, `google.*`, `bigquery.*` and `integrations.*`.
extension Settings {
    mutating func readIntegrations(_ keys: SettingsReader) {
        if let provider = keys.string("vault.provider") {
            if let parsed = VaultSettings.Provider(rawValue: provider) { vault.provider = parsed }
            else { keys.problem("vault.provider must be local or gcp_kms, got '\(provider)'") }
        }
        vault.masterKey = keys.string("vault.master_key", secret: true)
        vault.previousMasterKeys = (keys.string("vault.previous_master_keys", secret: true) ?? "").split(separator: ",").map(String.init)
        vault.keyringFile = keys.string("vault.keyring_file")
        vault.kmsKey = keys.string("vault.kms_key")
        vault.previousKMSKeys = keys.list("vault.previous_kms_keys")
        vault.kmsCredentialsFile = keys.string("vault.kms_credentials_file")
        vault.kmsURL = keys.string("vault.kms_url") ?? vault.kmsURL
        if vault.provider == .gcpKMS {
            if vault.kmsKey == nil { keys.problem("vault.kms_key is required when vault.provider=gcp_kms (projects/.../cryptoKeys/...)") }
            if vault.kmsCredentialsFile == nil { keys.problem("vault.kms_credentials_file is required when vault.provider=gcp_kms") }
        }

        connectors.googleTokenURL = keys.string("google.token_url") ?? connectors.googleTokenURL
        connectors.analyticsDataURL = keys.string("google.analytics_data_url") ?? connectors.analyticsDataURL
        connectors.analyticsAdminURL = keys.string("google.analytics_admin_url") ?? connectors.analyticsAdminURL
        connectors.bigQueryURL = keys.string("google.bigquery_url") ?? connectors.bigQueryURL
        connectors.googleMockFlag = keys.string("google.mock_flag").map { $0.isEmpty ? nil : $0 } ?? connectors.googleMockFlag
        connectors.bigQueryMaxBytes = Int64(keys.int("bigquery.max_bytes", Int(connectors.bigQueryMaxBytes), 1...(1 << 50)))
        connectors.bigQueryMaxRows = keys.int("bigquery.max_rows", connectors.bigQueryMaxRows, 1...100_000)
        connectors.openAIURL = keys.string("integrations.openai_url") ?? connectors.openAIURL
        connectors.anthropicURL = keys.string("integrations.anthropic_url") ?? connectors.anthropicURL
        connectors.geminiURL = keys.string("integrations.gemini_url") ?? connectors.geminiURL
    }
}
