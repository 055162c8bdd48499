import Foundation
import LLM
import Storage

/// Conversations as the API offers them: validated input, owner-only access (another user's id is not found).
public struct Conversations: Sendable {
    public let store: ConversationStore
    /// The agents a conversation may name.
    let agents: Set<String>
    let clock: WallClock
    public static let maxTitleCharacters = 200
    public static let maxMetadataBytes = 16 * 1024

    public init(database: any Database, agents: Set<String>, clock: WallClock) {
        self.store = ConversationStore(db: database)
        self.agents = agents
        self.clock = clock
    }

    public func create(userID: UUID, title: String?, agent: String?, metadata: JSONValue?) async throws -> Conversation {
        let sentTitle = title, title = title.flatMap(Self.normalizedTitle)
        let agent = agent.flatMap { $0.isEmpty ? nil : $0 }
        try validate(sentTitle: sentTitle, title: title, agent: agent, metadata: metadata)
        return try await store.create(userID: userID, title: title, agent: agent, metadata: metadata ?? .object([:]), now: clock.now)
    }

    public func get(_ id: UUID, userID: UUID) async throws -> Conversation {
        guard let conversation = try await store.find(id: id, userID: userID) else { throw AppError.notFound("conversation") }
        return conversation
    }

    public func list(userID: UUID, query: String?, page: PageRequest) async throws -> Page<Conversation> {
        try await store.list(userID: userID, query: query?.trimmingCharacters(in: .whitespaces), page: page)
    }

    /// Changes what is given: an empty title clears it, an empty agent returns to the default one.
    public func update(_ id: UUID, userID: UUID, title: String?, agent: String?, metadata: JSONValue?) async throws -> Conversation {
        var conversation = try await get(id, userID: userID)
        if let title { conversation.title = Self.normalizedTitle(title) }
        if let agent { conversation.agent = agent.isEmpty ? nil : agent }
        if let metadata { conversation.metadata = metadata }
        try validate(sentTitle: title, title: conversation.title, agent: agent.flatMap { $0.isEmpty ? nil : $0 }, metadata: metadata)
        guard let updated = try await store.update(conversation, now: clock.now) else { throw AppError.notFound("conversation") }
        return updated
    }

    public func delete(_ id: UUID, userID: UUID) async throws {
        guard try await store.delete(id: id, userID: userID) else { throw AppError.notFound("conversation") }
    }

    public func messages(_ id: UUID, userID: UUID, page: PageRequest) async throws -> Page<StoredMessage> {
        _ = try await get(id, userID: userID)
        return try await store.messages(conversationID: id, userID: userID, page: page)
    }

    /// The length is the title's as sent, before it is trimmed, since the contract's maxLength holds for what the client
    /// sends; the characters are the trimmed title's, which is what is stored.
    private func validate(sentTitle: String?, title: String?, agent: String?, metadata: JSONValue?) throws {
        var errors: [FieldError] = []
        // Counted as the contract's maxLength counts: Unicode scalars.
        if let sentTitle, sentTitle.unicodeScalars.count > Self.maxTitleCharacters {
            errors.append(FieldError(field: "title", code: "too_long", message: "must be at most \(Self.maxTitleCharacters) characters"))
        }
        if let title, title.containsControlCharacters {
            errors.append(FieldError(field: "title", code: "invalid_character", message: "must not contain control characters"))
        }
        if let agent, !agents.contains(agent) {
            errors.append(FieldError(field: "agent", code: "unknown_agent", message: "'\(agent)' is not an agent; use one of \(agents.sorted().joined(separator: ", "))"))
        }
        if let metadata, metadata.jsonString.utf8.count > Self.maxMetadataBytes {
            errors.append(FieldError(field: "metadata", code: "too_large", message: "must be at most \(Self.maxMetadataBytes / 1024) KB as JSON"))
        } else if let metadata, metadata.depth > JSONValue.maxStoredDepth {
            errors.append(FieldError(field: "metadata", code: "too_deep", message: "must nest at most \(JSONValue.maxStoredDepth) levels"))
        }
        if !errors.isEmpty { throw AppError.validation(errors) }
    }

    static func normalizedTitle(_ title: String) -> String? {
        let trimmed = title.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
