import Foundation
import LLM
import Storage

public struct MemorySettings: Sendable {
    /// A new memory this close (cosine) to one of the same namespace is the same memory: not stored twice.
    public var duplicateThreshold: Float = 0.95
    /// The vector indexes this process keeps in memory, all users together.
    public var indexBudgetBytes = 256 << 20
    public var maxTextCharacters = 8_000
    /// What a `memory: auto` agent recalls each turn: at most this many memories, scoring at least this.
    public var recallLimit = 5
    public var recallMinScore: Float = 0.3
    /// After each turn of an agent with memory, one model call proposes durable facts about the user, which are added.
    public var extract = false
    /// `memory.exchanges`: after each complete turn of an agent with memory, the exchange itself (the user's message
    /// and the answer) is kept as a memory of its own, in the `exchanges` namespace.
    public var exchanges = false

    public init() {}
}

/// Per-user semantic memory: texts embedded by the configured model, stored on either engine, and searched exactly
/// (every vector scored) in a per-user index held in memory and reloaded when its version moves. Embedding counts
/// against the user's token budget like a model call.
public final class Memories: Sendable {
    public let embedder: Embedder
    let store: MemoryStore
    let cache: VectorIndexCache
    let quotas: Quotas
    let usage: UsageStore
    let clock: WallClock
    public let settings: MemorySettings

    public init(embedder: Embedder, db: any Database, quotas: Quotas, settings: MemorySettings, clock: WallClock) {
        self.embedder = embedder
        store = MemoryStore(db: db)
        cache = VectorIndexCache(budgetBytes: settings.indexBudgetBytes)
        self.quotas = quotas
        usage = UsageStore(db: db)
        self.clock = clock
        self.settings = settings
    }

    /// `<configured name>:<provider model>`: what a namespace's memories are embedded with.
    public var model: String { Self.modelID(embedder.config) }

    static func modelID(_ config: EmbeddingConfig) -> String { config.name + ":" + config.model }
    public var dimensions: Int { embedder.config.dimensions }

    public struct Draft: Sendable {
        public var text: String
        public var namespace: String
        public var tags: [String]
        public var metadata: JSONValue

        public init(text: String, namespace: String?, tags: [String]?, metadata: JSONValue?) {
            self.text = text
            self.namespace = namespace ?? "default"
            self.tags = tags ?? []
            self.metadata = metadata ?? .object([:])
        }
    }

    /// Stores the memory, or finds it stored already (an exact or near duplicate in its namespace): then the
    /// existing one comes back with `duplicate` true.
    public func save(_ draft: Draft, user: User) async throws -> (memory: Memory, duplicate: Bool) {
        try await save([draft], user: user)[0]
    }

    /// Several memories at once, embedded in one call; each is checked against those stored before it, so a draft
    /// that nearly repeats an earlier one is not stored twice either.
    public func save(_ drafts: [Draft], user: User) async throws -> [(memory: Memory, duplicate: Bool)] {
        guard !drafts.isEmpty else { return [] }
        for draft in drafts { try validate(draft) }
        try await quotas.admitStorage(user: user)
        for namespace in Set(drafts.map(\.namespace)) { try await requireModel(user: user, namespace: namespace) }
        let vectors = try await embed(drafts.map(\.text), user: user)
        // Every draft is compared with what is stored before any is inserted (each insert moves the user's index on,
        // and a search after it would load the index again), then with the drafts kept before it.
        var nearest: [(memory: Memory, score: Float)?] = []
        for (draft, vector) in zip(drafts, vectors) {
            nearest.append(try await search(vector: vector, user: user, namespace: draft.namespace, tags: [], limit: 1).first)
        }
        var saved: [(memory: Memory, duplicate: Bool)] = []
        var kept: [(memory: Memory, unit: [Float])] = []
        for (index, (draft, vector)) in zip(drafts, vectors).enumerated() {
            if let (existing, score) = nearest[index], score >= settings.duplicateThreshold {
                saved.append((existing, true))
                continue
            }
            let unit = Embedder.normalized(vector)
            if let earlier = kept.first(where: { $0.memory.namespace == draft.namespace
                && zip($0.unit, unit).reduce(Float(0)) { $0 + $1.0 * $1.1 } >= settings.duplicateThreshold }) {
                saved.append((earlier.memory, true))
                continue
            }
            let now = clock.now
            let memory = Memory(id: UUID.random(), userID: user.id, namespace: draft.namespace, text: draft.text, tags: draft.tags,
                                metadata: draft.metadata, model: model, dimensions: dimensions, createdAt: now, updatedAt: now)
            try await store.insert(memory, vector: vector)
            saved.append((memory, false))
            kept.append((memory, unit))
        }
        return saved
    }

    /// Changes a memory's text (embedded again), tags or metadata.
    public func update(id: UUID, user: User, text: String?, tags: [String]?, metadata: JSONValue?) async throws -> Memory {
        guard var memory = try await store.find(id: id, userID: user.id) else { throw AppError.notFound("memory") }
        let draft = Draft(text: text ?? memory.text, namespace: memory.namespace, tags: tags ?? memory.tags, metadata: metadata ?? memory.metadata)
        try validate(draft)
        var vector: [Float]?
        if let text, text != memory.text {
            try await quotas.admitStorage(user: user)
            vector = try await embed([text], user: user)[0]
            memory.model = model
            memory.dimensions = dimensions
        }
        memory.text = draft.text
        memory.tags = draft.tags
        memory.metadata = draft.metadata
        memory.updatedAt = clock.now
        guard try await store.update(memory, vector: vector) else { throw AppError.notFound("memory") }
        return memory
    }

    public func find(id: UUID, user: User) async throws -> Memory {
        guard let memory = try await store.find(id: id, userID: user.id) else { throw AppError.notFound("memory") }
        return memory
    }

    public func list(user: User, namespace: String?, tags: [String], page: PageRequest) async throws -> Page<Memory> {
        try await store.list(userID: user.id, namespace: namespace, tags: tags, page: page)
    }

    public func delete(id: UUID, user: User) async throws {
        guard try await store.delete(id: id, userID: user.id) else { throw AppError.notFound("memory") }
    }

    public func forget(namespace: String, user: User) async throws -> Int {
        try Self.checkNamespace(namespace)
        return try await store.delete(namespace: namespace, userID: user.id)
    }

    public static let maxLimit = 50

    /// The best matches, best first, with their cosine: for a text `query` (embedded; and when it has words, ranked
    /// by fusing the vector order with a keyword order) or a `vector` given as it is.
    public func search(query: String?, vector given: [Float]?, user: User, namespace: String?, tags: [String], limit: Int,
                       minScore: Float?, in loaded: UserVectors? = nil) async throws -> [(memory: Memory, score: Float)] {
        var errors: [FieldError] = []
        if !(1...Self.maxLimit).contains(limit) { errors.append(FieldError(field: "limit", code: "out_of_range", message: "must be 1...\(Self.maxLimit)")) }
        if let minScore, !(-1...1).contains(minScore) { errors.append(FieldError(field: "min_score", code: "out_of_range", message: "must be -1...1")) }
        if query == nil, given == nil { errors.append(FieldError(field: "query", code: "required", message: "give a query or a vector")) }
        if let given, given.count != dimensions || given.contains(where: { !$0.isFinite }) {
            errors.append(FieldError(field: "vector", code: "invalid_vector", message: "must be \(dimensions) finite numbers (the embedding model's dimensions)"))
        }
        if let query, query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || query.unicodeScalars.count > settings.maxTextCharacters {
            errors.append(FieldError(field: "query", code: "invalid_value", message: "must be 1...\(settings.maxTextCharacters) characters"))
        }
        if let namespace { do { try Self.checkNamespace(namespace) } catch let error as AppError { errors += error.fieldErrors } }
        errors += Self.tagErrors(tags)
        guard errors.isEmpty else { throw AppError.validation(errors) }
        let vector: [Float]
        if let given { vector = Embedder.normalized(given) } else { vector = try await embed([query ?? ""], user: user)[0] }
        let words = Keywords.of(query ?? "")
        let found = try await search(vector: vector, user: user, namespace: namespace, tags: tags, limit: limit, words: words, in: loaded)
        return found.filter { $0.score >= (minScore ?? -1) }
    }

    /// Exact top-`limit` by cosine in the user's index; with `words`, the top candidates re-ranked by reciprocal rank
    /// fusion with how many of the words each text holds.
    func search(vector: [Float], user: User, namespace: String?, tags: [String], limit: Int,
                words: Set<String> = [], in loaded: UserVectors? = nil) async throws -> [(memory: Memory, score: Float)] {
        let index: UserVectors
        if let loaded { index = loaded } else { index = try await self.index(for: user) }
        let wanted = Set(tags)
        let filter: ((UserVectors.Entry) -> Bool)? = namespace == nil && wanted.isEmpty ? nil : { entry in
            (namespace == nil || entry.namespace == namespace) && wanted.isSubset(of: entry.tags)
        }
        let candidates = index.top(vector, limit: words.isEmpty ? limit : max(limit * 4, 50), include: filter)
        var ranked = candidates
        if !words.isEmpty {
            let keyword = candidates.map { candidate in (candidate, Keywords.matches(words, in: index.entries[candidate.row].folded)) }
                .filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
            var fused: [Int: Double] = [:]
            for (rank, candidate) in candidates.enumerated() { fused[candidate.row, default: 0] += 1 / Double(60 + rank + 1) }
            for (rank, item) in keyword.enumerated() { fused[item.0.row, default: 0] += 1 / Double(60 + rank + 1) }
            ranked = candidates.sorted { (fused[$0.row] ?? 0, $0.score) > (fused[$1.row] ?? 0, $1.score) }
        }
        ranked = Array(ranked.prefix(limit))
        let memories = try await store.find(ids: ranked.map { index.entries[$0.row].id }, userID: user.id)
        return ranked.compactMap { hit in memories[index.entries[hit.row].id].map { ($0, hit.score) } }
    }

    /// How many memories the user has, and the closest to `query` (at most `limit`, scoring at least `minScore`),
    /// from one reading of the user's index; a user without memories costs no embedding.
    public func recall(user: User, query: String, limit: Int, minScore: Float) async throws -> (count: Int, found: [(memory: Memory, score: Float)]) {
        let index = try await index(for: user)
        guard !index.entries.isEmpty else { return (0, []) }
        let found = try await search(query: String(query.prefix(settings.maxTextCharacters)), vector: nil, user: user, namespace: nil, tags: [],
                                     limit: limit, minScore: minScore, in: index)
        return (index.entries.count, found)
    }

    private func index(for user: User) async throws -> UserVectors {
        let version = try await store.version(userID: user.id)
        if let index = cache.index(for: user.id, version: version) { return index }
        let (index, loadedAt) = try await store.load(userID: user.id, model: model, dimensions: dimensions)
        cache.store(index, for: user.id, version: loadedAt)
        return index
    }

    /// Vectors for `texts`, within the user's token budget, their cost recorded and debited.
    func embed(_ texts: [String], user: User) async throws -> [[Float]] {
        try await quotas.admit(user: user)
        let embeddings: Embeddings
        do {
            embeddings = try await embedder.embed(texts)
        } catch let error as ProviderError {
            throw EmbeddingFailure.appError(error)
        }
        if embeddings.usage.totalTokens > 0 {
            try await usage.record(userID: user.id, model: embedder.config.name, usage: embeddings.usage, at: clock.now)
            try await quotas.debit(turnID: UUID.random(), userID: user.id, tokens: Int64(embeddings.usage.totalTokens))
        }
        return embeddings.vectors
    }

    /// A namespace holds one model's vectors: mixing would compare numbers that mean different things.
    private func requireModel(user: User, namespace: String) async throws {
        guard let existing = try await store.otherModel(userID: user.id, namespace: namespace, than: model, dimensions: dimensions) else { return }
        throw AppError.conflict("embedding_model_mismatch",
                                "The namespace \(namespace) holds memories embedded with \(existing.model) (\(existing.dimensions) dimensions), "
                                + "not \(model) (\(dimensions)); run `switchboard memory reembed` to move them to the configured model.")
    }

    private func validate(_ draft: Draft) throws {
        var errors: [FieldError] = []
        let text = draft.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty || draft.text.unicodeScalars.count > settings.maxTextCharacters {
            errors.append(FieldError(field: "text", code: "invalid_value", message: "must be 1...\(settings.maxTextCharacters) characters"))
        }
        if draft.text.containsNUL { errors.append(FieldError(field: "text", code: "invalid_character", message: "must not contain NUL characters")) }
        do { try Self.checkNamespace(draft.namespace) } catch let error as AppError { errors += error.fieldErrors }
        errors += Self.tagErrors(draft.tags)
        if case .object = draft.metadata, draft.metadata.jsonString.utf8.count <= 8_192 {} else {
            errors.append(FieldError(field: "metadata", code: "invalid_value", message: "must be a JSON object of at most 8 KiB"))
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }
    }

    /// Tags are held to one rule wherever they are sent, saved or searched: a search by a tag no memory can carry
    /// is a mistake to report, not an empty answer.
    static func tagErrors(_ tags: [String]) -> [FieldError] {
        guard tags.count > 20 || !tags.allSatisfy(isTag) else { return [] }
        return [FieldError(field: "tags", code: "invalid_value", message: "at most 20 tags of 1...64 letters, digits, _ - . :")]
    }

    static func isTag(_ tag: String) -> Bool {
        (1...64).contains(tag.unicodeScalars.count) && tag.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.:".unicodeScalars.contains($0) }
    }

    static func checkNamespace(_ namespace: String) throws {
        guard (1...64).contains(namespace.utf8.count),
              namespace.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0) }) else {
            throw AppError.validation([FieldError(field: "namespace", code: "invalid_value", message: "must be 1...64 lowercase letters, digits, _ - .")])
        }
    }
}

/// An embedding provider's failure as the client sees it: 503 when it is overloaded or rate-limited, 504 when slow,
/// 502 otherwise; the embedding model named, no secret.
enum EmbeddingFailure {
    static func appError(_ error: ProviderError) -> AppError {
        let (status, code): (Int, String) = switch error.kind {
        case .rateLimited, .unavailable: (503, "embedding_unavailable")
        case .timeout: (504, "embedding_timeout")
        default: (502, "embedding_error")
        }
        var problem = AppError(status: status, code: code, title: status == 504 ? "Gateway timeout" : status == 503 ? "Service unavailable" : "Bad gateway",
                               detail: "The embedding model failed: \(error.message)", retryAfter: nil)
        if let model = error.model { problem.extensions["model"] = model }
        return problem
    }
}
