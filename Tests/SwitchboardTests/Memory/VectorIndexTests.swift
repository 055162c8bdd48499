import Core
import Foundation
import Testing

/// The search's two passes (int8, then float32 re-scoring) against one exact float32 pass, on corpora small enough
/// for a debug build (the two passes start at `twoPassRows` here; the served default is larger).
@Suite("Vector index")
struct VectorIndexTests {
    static let twoPassRows = 256

    static func unit(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }

    static func random(_ dimensions: Int, _ generator: inout SplitMix) -> [Float] {
        unit((0..<dimensions).map { _ in Float(generator.next() % 2_000_001) / 1_000_000 - 1 })
    }

    /// Random vectors (top scores crowd together) or tight clusters around a few centres (many near-equal
    /// neighbours): the corpora where an approximate first pass would lose a result.
    static func corpus(rows: Int, dimensions: Int, clusters: Int, seed: UInt64) -> (UserVectors, queries: [[Float]]) {
        precondition(rows > twoPassRows, "the corpus is searched in two passes")
        var generator = SplitMix(seed: seed)
        let centres = (0..<max(1, clusters)).map { _ in random(dimensions, &generator) }
        func sample() -> [Float] {
            guard clusters > 0 else { return random(dimensions, &generator) }
            let centre = generator.pick(centres)
            let noise = random(dimensions, &generator)
            return unit(zip(centre, noise).map { $0 + 0.15 * $1 })
        }
        var index = UserVectors(dimensions: dimensions, twoPassRows: twoPassRows)
        for row in 0..<rows {
            index.append(.init(id: UUID(), namespace: row % 3 == 0 ? "notes" : "facts", tags: [], folded: ""), vector: sample())
        }
        return (index, (0..<20).map { _ in sample() })
    }

    @Test("The two-pass search returns the exact top 10 with float32 scores, filtered alike",
          arguments: [(384, 0), (384, 12), (100, 0), (100, 5)])
    func recall(dimensions: Int, clusters: Int) async {
        let (index, queries) = Self.corpus(rows: 1_500, dimensions: dimensions, clusters: clusters,
                                           seed: UInt64(dimensions * 100 + clusters))
        for (number, query) in queries.enumerated() {
            // CPU-bound in a debug build: let the suite's other tests run between queries.
            await Task.yield()
            let exact = index.exactTop(query, limit: 10)
            let served = index.top(query, limit: 10)
            #expect(served.map(\.row) == exact.map(\.row) && served.map(\.score) == exact.map(\.score),
                    "query \(number), \(dimensions) dimensions, \(clusters) clusters")
            let notes: (UserVectors.Entry) -> Bool = { $0.namespace == "notes" }
            #expect(index.top(query, limit: 50, include: notes).map(\.row) == index.exactTop(query, limit: 50, include: notes).map(\.row))
        }
    }

    @Test("Zero and odd-length vectors neither trap nor rank above real matches")
    func edges() {
        var index = UserVectors(dimensions: 7, twoPassRows: Self.twoPassRows)
        var generator = SplitMix(seed: 7)
        for row in 0..<Self.twoPassRows {
            let vector = row == 0 ? [Float](repeating: 0, count: 7) : Self.random(7, &generator)
            index.append(.init(id: UUID(), namespace: "default", tags: [], folded: ""), vector: vector)
        }
        index.append(.init(id: UUID(), namespace: "default", tags: [], folded: ""), vector: [1, 2, 3])
        #expect(index.entries.count == Self.twoPassRows, "a vector of another length is left out")
        let query = Self.random(7, &generator)
        #expect(index.top(query, limit: 5).map(\.row) == index.exactTop(query, limit: 5).map(\.row))
        #expect(index.top([Float](repeating: 0, count: 7), limit: 3).count == 3, "a zero query scores zero everywhere, without NaN")
    }
}
