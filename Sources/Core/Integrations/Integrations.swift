import Foundation
import LLM
import Logging
import Storage
import Vault

/// Customers' credentials: validated on the way in, sealed in the vault, shown back as metadata only, opened only for
/// the connectors that use them on the owner's behalf.
public struct Integrations: Sendable {
    public static let maxCredentialBytes = 64 * 1024
    public static let maxNameCharacters = 100
    let store: IntegrationStore
    public let vault: Vault
    let clock: WallClock

    public init(database: any Database, vault: Vault, clock: WallClock) {
        self.store = IntegrationStore(db: database)
        self.vault = vault
        self.clock = clock
    }

    /// What the client sent: the credentials as JSON (a service-account key object, or an API key string), or the raw
    /// text of an uploaded file.
    public enum Credentials: Sendable {
        case json(JSONValue)
        case text(String)
    }

    public func create(userID: UUID, kind rawKind: String, name rawName: String?, credentials: Credentials?,
                       provider: String?) async throws -> Integration {
        guard let kind = IntegrationKind(rawValue: rawKind) else {
            throw AppError.validation([FieldError(field: "kind", code: "unknown_kind",
                                                  message: "must be one of \(IntegrationKind.allCases.map(\.rawValue).joined(separator: ", "))")])
        }
        var errors: [FieldError] = []
        let name = rawName?.trimmingCharacters(in: .whitespacesAndNewlines)
        // Counted as the contract's maxLength counts: Unicode scalars, before trimming.
        if let name, (rawName?.unicodeScalars.count ?? 0) > Self.maxNameCharacters || name.containsControlCharacters {
            errors.append(FieldError(field: "name", code: "invalid_name", message: "must be 1 to \(Self.maxNameCharacters) characters, no control characters"))
        }
        guard let credentials else {
            throw AppError.validation(errors + [FieldError(field: "credentials", code: "required", message: "is required")])
        }
        let secret: String
        let metadata: JSONValue
        var defaultName: String
        switch kind {
        case .googleServiceAccount:
            // The key file's JSON, as an object or as the text of the file.
            let json: JSONValue?
            switch credentials {
            case .json(.string(let text)), .text(let text): json = Self.size(text) <= Self.maxCredentialBytes ? JSONValue.parse(text) : nil
            case .json(let value): json = value
            }
            guard let json, case .object = json else {
                let tooLarge = { if case .text(let text) = credentials { return Self.size(text) > Self.maxCredentialBytes }; return false }()
                throw AppError.validation(errors + [tooLarge ? Self.tooLarge : FieldError(field: "credentials", code: "invalid_json",
                                                                                          message: "must be a service-account key: a JSON object")])
            }
            secret = json.jsonString
            guard Self.size(secret) <= Self.maxCredentialBytes else { throw AppError.validation(errors + [Self.tooLarge]) }
            do {
                let account = try GoogleServiceAccount(json: json)
                metadata = ["client_email": .string(account.clientEmail), "project_id": .string(account.projectID),
                            "private_key_id": account.privateKeyID.map(JSONValue.string) ?? .null]
                defaultName = account.clientEmail
            } catch let invalid as GoogleServiceAccount.Invalid {
                // The problems name fields, never their values: a key must not come back in an error.
                throw AppError.validation(errors + invalid.problems.map {
                    FieldError(field: "credentials.\($0.field)", code: "invalid", message: $0.message)
                })
            }
        case .apiKey:
            let key: String?
            switch credentials {
            case .json(.string(let text)), .text(let text): key = text.trimmingCharacters(in: .whitespacesAndNewlines)
            case .json: key = nil
            }
            guard let key, !key.isEmpty, key.utf8.count <= 4096, !key.contains(where: { $0.isWhitespace }), !key.containsControlCharacters else {
                throw AppError.validation(errors + [FieldError(field: "credentials", code: "invalid_api_key",
                                                               message: "must be the key as a string of at most 4096 characters, without spaces")])
            }
            let providers = ["openai", "anthropic", "gemini", "other"]
            if let provider, !providers.contains(provider) {
                errors.append(FieldError(field: "provider", code: "unknown_provider", message: "must be one of \(providers.joined(separator: ", "))"))
            }
            secret = key
            metadata = ["provider": .string(provider ?? "other")]
            defaultName = "\(provider ?? "API") key"
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }

        let integration = Integration(id: UUID.random(), userID: userID, kind: kind, name: name.flatMap { $0.isEmpty ? nil : $0 } ?? defaultName,
                                      metadata: metadata, createdAt: clock.now)
        let sealed = try await vault.seal(Data(secret.utf8), context: Self.context(integration))
        try await store.insert(integration, sealed: sealed)
        return integration
    }

    public func list(userID: UUID, page: PageRequest) async throws -> Page<Integration> {
        try await store.list(userID: userID, page: page)
    }

    public func get(_ id: UUID, userID: UUID) async throws -> Integration {
        guard let integration = try await store.find(id: id, userID: userID) else { throw AppError.notFound("integration") }
        return integration
    }

    /// Deletes the integration; its secret cannot be recovered afterwards.
    public func delete(_ id: UUID, userID: UUID) async throws {
        guard try await store.delete(id: id, userID: userID) else { throw AppError.notFound("integration") }
    }

    /// Opens the secret for a connector acting for `userID`: 404 unless the integration is theirs.
    public func secret(_ id: UUID, userID: UUID) async throws -> (Integration, Data) {
        guard let (integration, sealed) = try await store.findSealed(id: id, userID: userID) else { throw AppError.notFound("integration") }
        return (integration, try await vault.open(sealed, context: Self.context(integration)))
    }

    /// The user's integrations of one kind, newest first (for tools choosing one).
    public func all(userID: UUID, kind: IntegrationKind) async throws -> [Integration] {
        try await store.list(userID: userID, kind: kind, page: PageRequest(page: 1, perPage: PageRequest.maxPerPage)).items
    }

    /// Key ids that stored secrets depend on: each must be available, or the server must not start.
    public func keyIDsInUse() async throws -> [String] {
        try await store.keyIDsInUse()
    }

    /// Re-wraps every data key not under the active key (after a rotation). Ciphertexts are untouched and no
    /// plaintext is produced; a row changed meanwhile is left for the next run. Returns how many were re-wrapped.
    public func rewrapAll(logger: Logger) async throws -> Int {
        let active = try await vault.provider.activeKeyID()
        var count = 0
        var after = ""
        while true {
            let batch = try await store.sealedNotUnder(active, after: after, limit: 100)
            guard let last = batch.last else { return count }
            for (id, sealed) in batch {
                let rewrapped = try await vault.rewrap(sealed)
                if try await store.replaceWrappedKey(id: id, old: sealed, new: rewrapped) { count += 1 }
            }
            after = last.id
            logger.info("re-wrapped data keys", metadata: ["count": "\(count)"])
        }
    }

    static func context(_ integration: Integration) -> SecretContext {
        SecretContext(owner: integration.userID.lowercased, recordID: integration.id.lowercased, kind: integration.kind.rawValue)
    }

    private static func size(_ text: String) -> Int { text.utf8.count }

    public static let tooLarge = FieldError(field: "credentials", code: "too_large", message: "must be at most 64 KB")
}
