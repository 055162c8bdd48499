import AsyncHTTPClient
import Crypto
import Foundation
import LLM
import NIOCore
import NIOHTTP1
import Vault

/// Data keys wrapped by a Google Cloud KMS key (`projects/.../locations/.../keyRings/.../cryptoKeys/...`), over its
/// REST API with a service account: the key-encryption key never leaves Google. KMS picks the key version itself, so
/// rotating versions in KMS needs nothing here; moving to another key is `vault.kms_key` with the old one in
/// `vault.previous_kms_keys`, then `switchboard keys rotate`.
public final class GoogleKMSKeyProvider: KeyProvider {
    static let scope = "https://www.googleapis.com/auth/cloudkms"
    static let associatedData = Data("switchboard-vault:wrap:v1".utf8).base64EncodedString()
    let keyName: String
    let previousKeys: [String]
    let baseURL: String
    let tokens: GoogleAccessTokenSource
    let client: HTTPClient

    public init(keyName: String, previousKeys: [String] = [], account: GoogleServiceAccount, baseURL: String = "https://cloudkms.googleapis.com",
                tokenURL: String? = nil, client: HTTPClient = .shared) {
        self.keyName = keyName
        self.previousKeys = previousKeys
        self.baseURL = baseURL
        self.tokens = GoogleAccessTokenSource(account: account, scope: Self.scope, tokenURL: tokenURL, client: client)
        self.client = client
    }

    public func activeKeyID() async throws -> String { keyName }

    public func canUnwrap(keyID: String) async -> Bool { keyID == keyName || previousKeys.contains(keyID) }

    public func wrap(_ dataKey: SymmetricKey) async throws -> (keyID: String, wrapped: Data) {
        let plaintext = dataKey.withUnsafeBytes { Data($0).base64EncodedString() }
        let response = try await call(keyName + ":encrypt", ["plaintext": .string(plaintext), "additionalAuthenticatedData": .string(Self.associatedData)])
        guard let ciphertext = response["ciphertext"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
            throw VaultError.keyProviderFailed("KMS returned no ciphertext")
        }
        return (keyName, ciphertext)
    }

    public func unwrap(_ wrapped: Data, keyID: String) async throws -> SymmetricKey {
        guard await canUnwrap(keyID: keyID) else { throw VaultError.unknownKey(keyID) }
        let response = try await call(keyID + ":decrypt", ["ciphertext": .string(wrapped.base64EncodedString()),
                                                           "additionalAuthenticatedData": .string(Self.associatedData)])
        guard let plaintext = response["plaintext"]?.stringValue.flatMap({ Data(base64Encoded: $0) }), plaintext.count == 32 else {
            throw VaultError.decryptionFailed
        }
        return SymmetricKey(data: plaintext)
    }

    private func call(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        let token: String
        do { token = try await tokens.token() } catch { throw VaultError.keyProviderFailed("no access token for KMS: \(error)") }
        var request = HTTPClientRequest(url: "\(baseURL)/v1/\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.jsonString))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw VaultError.keyProviderFailed("KMS could not be reached")
        }
        let json = JSONValue.parse(String(buffer: try await response.body.collect(upTo: 1 << 20)))
        guard response.status == .ok, let json else {
            // A decrypt refused with 400 is a ciphertext KMS does not recognise: tampered or from another key.
            if response.status == .badRequest, path.hasSuffix(":decrypt") { throw VaultError.decryptionFailed }
            throw VaultError.keyProviderFailed("KMS answered HTTP \(response.status.code): \(json?["error"]?["message"]?.stringValue ?? "")")
        }
        return json
    }
}
