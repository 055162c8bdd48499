import Connectors
import Crypto
import Foundation
import LLM
import Testing
import Vault

@Suite("Vault")
struct VaultTests {
    static func keyringPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vault-\(UUID().uuidString)/vault-keyring.json").path
    }

    let context = SecretContext(owner: "user-a", recordID: "record-1", kind: "google_service_account")

    @Test("Envelope encryption: a fresh data key per secret; context, ciphertext and wrapped key are all authenticated")
    func envelope() async throws {
        let vault = Vault(provider: try LocalKeyring(path: Self.keyringPath()))
        let secret = Data("the private key".utf8)
        let first = try await vault.seal(secret, context: context)
        let second = try await vault.seal(secret, context: context)
        #expect(first.ciphertext != second.ciphertext, "a fresh data key and nonce every time")
        #expect(first.wrappedKey != second.wrappedKey)
        #expect(first.ciphertext.count == 12 + secret.count + 16, "nonce || ciphertext || tag")
        #expect(try await vault.open(first, context: context) == secret)

        for other in [SecretContext(owner: "user-b", recordID: "record-1", kind: context.kind),
                      SecretContext(owner: "user-a", recordID: "record-2", kind: context.kind),
                      SecretContext(owner: "user-a", recordID: "record-1", kind: "api_key")] {
            await #expect(throws: VaultError.decryptionFailed) { try await vault.open(first, context: other) }
        }
        for index in [0, 12, first.ciphertext.count - 1] {
            var flipped = first.ciphertext
            flipped[index] ^= 0x01
            await #expect(throws: VaultError.decryptionFailed) {
                try await vault.open(SealedSecret(keyID: first.keyID, wrappedKey: first.wrappedKey, ciphertext: flipped), context: context)
            }
        }
        var wrapped = first.wrappedKey
        wrapped[20] ^= 0x80
        await #expect(throws: VaultError.decryptionFailed) {
            try await vault.open(SealedSecret(keyID: first.keyID, wrappedKey: wrapped, ciphertext: first.ciphertext), context: context)
        }
        // Another secret's data key does not open this ciphertext.
        await #expect(throws: VaultError.decryptionFailed) {
            try await vault.open(SealedSecret(keyID: first.keyID, wrappedKey: second.wrappedKey, ciphertext: first.ciphertext), context: context)
        }
        await #expect(throws: VaultError.unknownKey("local-nope")) {
            try await vault.open(SealedSecret(keyID: "local-nope", wrappedKey: first.wrappedKey, ciphertext: first.ciphertext), context: context)
        }
    }

    @Test("The keyring file is created 0600 on first run, kept across restarts, and rotation keeps old keys readable")
    func keyring() async throws {
        let path = Self.keyringPath()
        let first = try LocalKeyring(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let sealed = try await Vault(provider: first).seal(Data("s".utf8), context: context)

        // Another process, started before the rotation, sees the new key when it meets it.
        let other = try LocalKeyring(path: path)
        let newID = try first.rotate()
        #expect(try await first.activeKeyID() == newID)
        #expect(first.keyIDs.count == 2)
        let rewrapped = try await Vault(provider: first).rewrap(sealed)
        #expect(rewrapped.keyID == newID)
        #expect(rewrapped.ciphertext == sealed.ciphertext, "re-wrapping never touches the ciphertext")
        #expect(try await Vault(provider: other).open(rewrapped, context: context) == Data("s".utf8))
        #expect(try await Vault(provider: other).open(sealed, context: context) == Data("s".utf8))
        #expect(try await Vault(provider: LocalKeyring(path: path)).open(sealed, context: context) == Data("s".utf8))
    }

    @Test("Rotations and first runs racing on one keyring file never lose a key")
    func concurrentKeyring() async throws {
        let path = Self.keyringPath()
        // Processes starting together: one keyring, the same active key for all.
        let starts = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<6 { group.addTask { try await LocalKeyring(path: path).activeKeyID() } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(starts.count == 1)
        let rotated = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try LocalKeyring(path: path).rotate() } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        let file = try LocalKeyring(path: path)
        #expect(Set(file.keyIDs).isSuperset(of: rotated), "every rotation's key is in the file")
        #expect(file.keyIDs.count == 9)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
            .filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test("A short, malformed or unreadable key refuses to load")
    func badKeys() throws {
        #expect(throws: VaultKeyError.self) { try LocalKeyring(active: Data(repeating: 1, count: 16).base64EncodedString()) }
        #expect(throws: VaultKeyError.self) { try LocalKeyring(active: "not base64!") }
        let path = Self.keyringPath()
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try Data("{\"active\": \"k\", \"keys\": {\"k\": \"c2hvcnQ=\"}}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: VaultKeyError.self) { try LocalKeyring(path: path) }
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: VaultKeyError.self) { try LocalKeyring(path: path) }
        let configured = try LocalKeyring(active: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() })
        #expect(throws: VaultError.self) { try configured.rotate() }
    }

    @Test("Google Cloud KMS wraps and unwraps data keys over its REST API with a service-account token")
    func kms() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account)
        let keyName = "projects/acme/locations/europe/keyRings/switchboard/cryptoKeys/secrets"
        let provider = GoogleKMSKeyProvider(keyName: keyName, account: try GoogleServiceAccount(json: account.json), baseURL: google.baseURL,
                                            tokenURL: google.tokenURL)
        let vault = Vault(provider: provider)
        let sealed = try await vault.seal(Data("kms secret".utf8), context: context)
        #expect(sealed.keyID == keyName)
        #expect(try await vault.open(sealed, context: context) == Data("kms secret".utf8))
        var wrapped = sealed.wrappedKey
        wrapped[3] ^= 1
        await #expect(throws: VaultError.decryptionFailed) {
            try await vault.open(SealedSecret(keyID: keyName, wrappedKey: wrapped, ciphertext: sealed.ciphertext), context: context)
        }
        #expect(google.requests.contains { $0.path.hasSuffix(":encrypt") })
        #expect(google.issued == 1, "the KMS token is cached")
        await google.stop()
    }
}
