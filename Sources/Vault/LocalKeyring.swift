import Crypto
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Master keys kept locally: a keyring file in the data directory (created on first run, mode 0600), or keys given
/// by configuration. Data keys are wrapped with AES-256-GCM under the active master key.
///
/// The keyring file holds every master key by id and names the active one. `rotate` adds a key and makes it active;
/// older keys stay, so secrets wrapped by them stay readable (also by processes started before the rotation, which
/// read the file again when they meet a key id they do not know, and never forget a key they knew).
public final class LocalKeyring: KeyProvider {
    struct Keys: Codable, Equatable {
        var active: String
        var keys: [String: String]
    }

    private let path: String?
    private let state: Mutex<Keys>

    /// The keyring file at `path`, created with one new key when it does not exist. Creation, like rotation, holds
    /// an exclusive lock on `<path>.lock`, so processes starting together agree on one keyring.
    public init(path: String) throws {
        self.path = path
        let keys = try Self.locked(path) {
            if FileManager.default.fileExists(atPath: path) { return try Self.read(path) }
            let id = Self.newID()
            let keys = Keys(active: id, keys: [id: Self.randomKey()])
            try Self.write(keys, to: path)
            return keys
        }
        state = Mutex(keys)
    }

    /// Keys from configuration: `active` (base64, 32 bytes) wraps new secrets; `previous` stay readable.
    public init(active: String, previous: [String] = []) throws {
        path = nil
        var keys: [String: String] = [:]
        var activeID = ""
        for (index, text) in ([active] + previous).enumerated() {
            let key = try Self.decode(text, what: index == 0 ? "vault.master_key" : "vault.previous_master_keys")
            let id = Self.id(of: key)
            keys[id] = key.withUnsafeBytes { Data($0).base64EncodedString() }
            if index == 0 { activeID = id }
        }
        state = Mutex(Keys(active: activeID, keys: keys))
    }

    public func activeKeyID() async throws -> String { state.withLock { $0.active } }

    public var keyIDs: [String] { state.withLock { $0.keys.keys.sorted() } }

    public func wrap(_ dataKey: SymmetricKey) async throws -> (keyID: String, wrapped: Data) {
        let (id, master) = try state.withLock { keys -> (String, SymmetricKey) in
            guard let text = keys.keys[keys.active] else { throw VaultError.unknownKey(keys.active) }
            return (keys.active, try Self.decode(text, what: "keyring"))
        }
        let raw = dataKey.withUnsafeBytes { Data($0) }
        let box = try AES.GCM.seal(raw, using: master, authenticating: Self.wrapContext(id))
        guard let combined = box.combined else { throw VaultError.decryptionFailed }
        return (id, combined)
    }

    public func unwrap(_ wrapped: Data, keyID: String) async throws -> SymmetricKey {
        guard let master = try masterKey(keyID) else { throw VaultError.unknownKey(keyID) }
        do {
            let raw = try AES.GCM.open(try AES.GCM.SealedBox(combined: wrapped), using: master, authenticating: Self.wrapContext(keyID))
            return SymmetricKey(data: raw)
        } catch {
            throw VaultError.decryptionFailed
        }
    }

    public func canUnwrap(keyID: String) async -> Bool { (try? masterKey(keyID)) != nil }

    /// Adds a new master key and makes it active; returns its id. Only for a keyring file. The file is read, changed
    /// and written under the lock, and read back before the key is used: a key that did not reach the disk is never
    /// used to wrap anything.
    public func rotate() throws -> String {
        guard let path else { throw VaultError.keyProviderFailed("keys given by configuration are rotated by configuration") }
        let id = Self.newID()
        let written = try Self.locked(path) {
            var updated = try Self.read(path) // another process may have rotated since this one read the file
            updated.keys[id] = Self.randomKey()
            updated.active = id
            try Self.write(updated, to: path)
            return try Self.read(path)
        }
        guard written.active == id, written.keys[id] != nil else { throw VaultKeyError("the new key did not reach the keyring at \(path)") }
        merge(written)
        return id
    }

    private func masterKey(_ id: String) throws -> SymmetricKey? {
        if let text = state.withLock({ $0.keys[id] }) { return try Self.decode(text, what: "keyring") }
        // A key made by a rotation in another process: read the file again.
        guard let path, let fresh = try? Self.read(path), let text = fresh.keys[id] else { return nil }
        merge(fresh)
        return try Self.decode(text, what: "keyring")
    }

    /// Takes the file's keys and active key, keeping every key already known: a key is never forgotten.
    private func merge(_ fresh: Keys) {
        state.withLock { keys in
            keys.keys.merge(fresh.keys) { known, _ in known }
            keys.active = fresh.active
        }
    }

    private static func wrapContext(_ id: String) -> Data { Data("switchboard-vault:wrap:v1:\(id)".utf8) }

    private static func newID() -> String {
        "local-" + SymmetricKey(size: .bits128).withUnsafeBytes { hex(Data($0).prefix(6)) }
    }

    private static func randomKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// The id of a configured key: the start of its SHA-256, so the same key always has the same id.
    static func id(of key: SymmetricKey) -> String {
        "cfg-" + hex(key.withUnsafeBytes { SHA256.hash(data: Data($0)) }.prefix(6))
    }

    static func decode(_ text: String, what: String) throws -> SymmetricKey {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw VaultKeyError("\(what) must be a base64-encoded 256-bit (32-byte) key")
        }
        return SymmetricKey(data: data)
    }

    static func read(_ path: String) throws -> Keys {
        guard let data = FileManager.default.contents(atPath: path) else { throw VaultKeyError("cannot read the vault keyring at \(path)") }
        guard let keys = try? JSONDecoder().decode(Keys.self, from: data), keys.keys[keys.active] != nil else {
            throw VaultKeyError("the vault keyring at \(path) is not a valid keyring")
        }
        for (id, text) in keys.keys { _ = try decode(text, what: "the vault keyring's key \(id)") }
        return keys
    }

    /// Runs `body` holding an exclusive lock (flock) on `<path>.lock`: one process at a time creates or rewrites the
    /// keyring.
    static func locked<T>(_ path: String, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        let fd = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultKeyError("cannot lock the vault keyring at \(path)") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw VaultKeyError("cannot lock the vault keyring at \(path)") }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Written to a new temporary file (0600, a random name, O_EXCL) that is synced and renamed over the keyring, then
    /// the directory is synced: after a crash the keyring is either the old one or the new one, whole.
    static func write(_ keys: Keys, to path: String) throws {
        let data = try JSONEncoder().encode(keys)
        let temporary = path + ".tmp-" + newID()
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultKeyError("cannot write the vault keyring at \(path)") }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw VaultKeyError("cannot write the vault keyring at \(path)")
        }
        let directory = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw VaultKeyError("cannot sync the directory of the vault keyring at \(path)") }
        defer { close(directory) }
        guard fsync(directory) == 0 else { throw VaultKeyError("cannot sync the directory of the vault keyring at \(path)") }
    }
}

/// A missing, short or unreadable key: start-up stops with this message.
public struct VaultKeyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Lowercase hex of a few bytes (key ids), without `String(format:)` and its locale machinery.
private func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16) }.joined()
}
