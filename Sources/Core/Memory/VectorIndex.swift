import Foundation
import Synchronization

/// One user's memories as an exact-search index: every vector of one model, unit length, in one contiguous float32
/// buffer, so that a search is a single pass of dot products (the cosine) over memory the CPU prefetches.
public struct UserVectors: Sendable {
    public struct Entry: Sendable {
        public let id: UUID
        public let namespace: String
        public let tags: Set<String>
        /// Lowercased, for the keyword half of a hybrid search.
        public let folded: String

        public init(id: UUID, namespace: String, tags: Set<String>, folded: String) {
            self.id = id
            self.namespace = namespace
            self.tags = tags
            self.folded = folded
        }
    }

    public let dimensions: Int
    public private(set) var entries: [Entry] = []
    /// `entries.count * dimensions` floats, row after row.
    public private(set) var vectors: [Float] = []

    public init(dimensions: Int) {
        self.dimensions = dimensions
    }

    /// Adds a row; a vector of another length is left out (the store refuses to mix them; this never traps).
    public mutating func append(_ entry: Entry, vector: [Float]) {
        guard vector.count == dimensions else { return }
        entries.append(entry)
        vectors += vector
    }

    public var bytes: Int { vectors.count * MemoryLayout<Float>.size + entries.count * 96 }

    /// The `limit` best rows for `query` among those `include` admits, best first, as (row, cosine).
    public func top(_ query: [Float], limit: Int, include: (Entry) -> Bool = { _ in true }) -> [(row: Int, score: Float)] {
        guard query.count == dimensions, limit > 0 else { return [] }
        var best: [(row: Int, score: Float)] = []
        best.reserveCapacity(limit + 1)
        var floor = -Float.infinity
        vectors.withUnsafeBufferPointer { all in
            query.withUnsafeBufferPointer { q in
                for row in 0..<entries.count where include(entries[row]) {
                    let score = Self.dot(q, all, offset: row * dimensions, count: dimensions)
                    guard best.count < limit || score > floor else { continue }
                    let at = best.firstIndex { $0.score < score } ?? best.count
                    best.insert((row, score), at: at)
                    if best.count > limit { best.removeLast() }
                    if best.count == limit { floor = best[limit - 1].score }
                }
            }
        }
        return best
    }

    /// A dot product, sixteen lanes at a time.
    @inline(__always)
    static func dot(_ q: UnsafeBufferPointer<Float>, _ all: UnsafeBufferPointer<Float>, offset: Int, count: Int) -> Float {
        guard let qBase = q.baseAddress, let base = all.baseAddress?.advanced(by: offset) else { return 0 }
        var sum = SIMD16<Float>()
        var i = 0
        let raw = UnsafeRawPointer(base)
        let qRaw = UnsafeRawPointer(qBase)
        while i + 16 <= count {
            let a = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let b = qRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            sum += a * b
            i += 16
        }
        var total = sum.sum()
        while i < count {
            total += base[i] * qBase[i]
            i += 1
        }
        return total
    }
}

/// Users' vector indexes, loaded on first use and kept while they fit a memory budget (the least recently used
/// go first). Each carries the version of the user's memories it was loaded at: a search that finds the stored
/// version moved on (a write through this process or another sharing the database) loads the index again.
public final class VectorIndexCache: Sendable {
    struct Cached: Sendable {
        let version: Int64
        let index: UserVectors
        var used: UInt64
    }

    private let budgetBytes: Int
    private let state = Mutex<(users: [UUID: Cached], tick: UInt64)>(([:], 0))

    public init(budgetBytes: Int) {
        self.budgetBytes = budgetBytes
    }

    /// The user's index at `version`, if this process holds it.
    public func index(for user: UUID, version: Int64) -> UserVectors? {
        state.withLock { state in
            guard var cached = state.users[user], cached.version == version else { return nil }
            state.tick += 1
            cached.used = state.tick
            state.users[user] = cached
            return cached.index
        }
    }

    public func store(_ index: UserVectors, for user: UUID, version: Int64) {
        state.withLock { state in
            state.tick += 1
            state.users[user] = Cached(version: version, index: index, used: state.tick)
            var total = state.users.values.reduce(0) { $0 + $1.index.bytes }
            while total > budgetBytes, state.users.count > 1,
                  let oldest = state.users.filter({ $0.key != user }).min(by: { $0.value.used < $1.value.used }) {
                total -= oldest.value.index.bytes
                state.users[oldest.key] = nil
            }
        }
    }

    public var residentBytes: Int { state.withLock { $0.users.values.reduce(0) { $0 + $1.index.bytes } } }
}
