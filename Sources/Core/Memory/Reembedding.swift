import Foundation
import LLM
import Storage

/// Moves every memory to the configured embedding model, one batch (one embedding call, one transaction) at a time.
/// It is resumable by construction: each batch commits on its own, and the next run selects what is still embedded
/// with another model, so a stopped job picks up where it stopped. Meanwhile searches see only the memories already
/// moved, and a namespace still holding old vectors refuses new memories (409 `embedding_model_mismatch`).
public struct Reembedding: Sendable {
    let store: MemoryStore
    public let embedder: Embedder

    public init(db: any Database, embedder: Embedder) {
        store = MemoryStore(db: db)
        self.embedder = embedder
    }

    public var model: String { Memories.modelID(embedder.config) }

    /// Memories still embedded with another model.
    public func remaining() async throws -> Int {
        try await store.countOther(model: model, dimensions: embedder.config.dimensions)
    }

    /// Moves up to `batchSize` memories; returns how many it read (0: nothing is left), how many moved (fewer when
    /// a memory changed meanwhile: read again by the next step) and what embedding them used. The cost is the
    /// operator's, not counted against any user's budget.
    public func step(batchSize: Int) async throws -> (read: Int, moved: Int, usage: Usage) {
        let items = try await store.other(model: model, dimensions: embedder.config.dimensions, limit: batchSize)
        guard !items.isEmpty else { return (0, 0, .zero) }
        let embeddings = try await embedder.embed(items.map(\.text))
        let moved = try await store.reembed(zip(items, embeddings.vectors).map { item, vector in
            (item.id, item.userID, item.text, item.model, vector)
        }, model: model, dimensions: embedder.config.dimensions)
        return (items.count, moved, embeddings.usage)
    }
}
