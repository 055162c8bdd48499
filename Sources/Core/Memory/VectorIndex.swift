import Foundation

/// One user's memories as an exact-search index: every vector of one model, unit length, in one contiguous float32
/// buffer, so that a search is a single pass of dot products (the cosine) over memory the CPU prefetches.
///
/// A large index is searched in two passes: an int8 copy of every row (a quarter of the bytes) ranks the rows
/// approximately, and the best `candidateFactor` per wanted result are scored again exactly in float32. Scores are
/// always the float32 cosine; a test holds the top 10 equal to the exact pass's on random and clustered corpora.
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
    /// The rows again as int8, each scaled so its largest magnitude is `codeLimit`, and each row's scale back.
    private(set) var codes: [Int8] = []
    private(set) var codeScales: [Float] = []

    /// Codes stay within ±90 so that four int16 products (90 x 90 each) add up without overflow.
    static let codeLimit: Float = 90
    /// From this many rows the int8 pass is used: below, one float32 pass costs less than two passes.
    public static let defaultTwoPassRows = 4_096
    public let twoPassRows: Int
    /// Candidates re-scored exactly per wanted result (at least 64).
    static let candidateFactor = 8

    /// `twoPassRows` other than the default is for tests, which check the two passes on small corpora.
    public init(dimensions: Int, twoPassRows: Int = defaultTwoPassRows) {
        self.dimensions = dimensions
        self.twoPassRows = max(1, twoPassRows)
    }

    /// Adds a row; a vector of another length is left out (the store refuses to mix them; this never traps).
    public mutating func append(_ entry: Entry, vector: [Float]) {
        guard vector.count == dimensions else { return }
        entries.append(entry)
        vectors += vector
        // Small indexes are searched in one pass and carry no codes; at the threshold every row gets its codes.
        guard entries.count >= twoPassRows else { return }
        let start = codeScales.count
        if start == 0 { codes.reserveCapacity(vectors.count) }
        for row in start..<entries.count {
            let (rowCodes, scale) = Self.quantized(Array(vectors[row * dimensions..<(row + 1) * dimensions]))
            codes += rowCodes
            codeScales.append(scale)
        }
    }

    public var bytes: Int { vectors.count * MemoryLayout<Float>.size + codes.count + codeScales.count * 4 + entries.count * 96 }

    /// The codes of a vector, and the factor that turns a code back into its value.
    static func quantized(_ vector: [Float]) -> (codes: [Int8], scale: Float) {
        let largest = vector.reduce(Float(0)) { max($0, abs($1)) }
        guard largest > 0, largest.isFinite else { return ([Int8](repeating: 0, count: vector.count), 0) }
        let factor = codeLimit / largest
        return (vector.map { Int8(max(-codeLimit, min(codeLimit, ($0 * factor).rounded()))) }, largest / codeLimit)
    }

    /// The `limit` best rows for `query` among those `include` admits, best first, as (row, cosine).
    /// The `limit` best rows for `query` among those `include` admits (all without it), best first, as (row, cosine).
    public func top(_ query: [Float], limit: Int, include: ((Entry) -> Bool)? = nil) -> [(row: Int, score: Float)] {
        guard query.count == dimensions, limit > 0 else { return [] }
        if codeScales.count == entries.count, entries.count >= twoPassRows { return topTwoPass(query, limit: limit, include: include) }
        return exactTop(query, limit: limit, include: include)
    }

    /// Every admitted row scored in float32.
    public func exactTop(_ query: [Float], limit: Int, include: ((Entry) -> Bool)? = nil) -> [(row: Int, score: Float)] {
        guard query.count == dimensions, limit > 0 else { return [] }
        var best = TopK(limit)
        vectors.withUnsafeBufferPointer { all in
            query.withUnsafeBufferPointer { q in
                for row in 0..<entries.count where include?(entries[row]) ?? true {
                    best.offer(row, Self.dot(q, all, offset: row * dimensions, count: dimensions))
                }
            }
        }
        return best.items
    }

    /// The int8 pass ranks every admitted row; its best candidates are scored again in float32.
    func topTwoPass(_ query: [Float], limit: Int, include: ((Entry) -> Bool)?) -> [(row: Int, score: Float)] {
        let (queryCodes, _) = Self.quantized(query)
        let wide = queryCodes.map { Int16($0) }
        var candidates = TopK(max(limit * Self.candidateFactor, 64))
        codes.withUnsafeBytes { all in
            wide.withUnsafeBytes { q in
                codeScales.withUnsafeBufferPointer { scales in
                    guard let base = all.baseAddress, let qBase = q.baseAddress else { return }
                    for row in 0..<scales.count where include?(entries[row]) ?? true {
                        let dot = Self.codeDot(base + row &* dimensions, qBase, count: dimensions)
                        candidates.offer(row, Float(dot) * scales[row])
                    }
                }
            }
        }
        var best = TopK(limit)
        vectors.withUnsafeBufferPointer { all in
            query.withUnsafeBufferPointer { q in
                for (row, _) in candidates.items { best.offer(row, Self.dot(q, all, offset: row * dimensions, count: dimensions)) }
            }
        }
        return best.items
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

    /// The dot product of a row's codes with the query's (widened to int16): products are added in int16 lanes four
    /// at a time (at most 4 x 90 x 90 = 32,400), then into int32. Written so that the baseline x86-64 instruction set
    /// vectorises it: int8 lanes widened once, no 32-bit multiply.
    @inline(__always)
    static func codeDot(_ row: UnsafeRawPointer, _ query: UnsafeRawPointer, count: Int) -> Int32 {
        var wide = SIMD16<Int32>()
        var narrow = SIMD16<Int16>()
        var i = 0
        var rounds = 0
        while i &+ 16 <= count {
            let a = SIMD16<Int16>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self))
            narrow &+= a &* query.loadUnaligned(fromByteOffset: i &* 2, as: SIMD16<Int16>.self)
            rounds &+= 1
            if rounds == 4 {
                wide &+= SIMD16<Int32>(truncatingIfNeeded: narrow)
                narrow = .zero
                rounds = 0
            }
            i &+= 16
        }
        var total = wide.wrappedSum() &+ SIMD16<Int32>(truncatingIfNeeded: narrow).wrappedSum()
        while i < count {
            total &+= Int32(row.load(fromByteOffset: i, as: Int8.self)) &* Int32(query.load(fromByteOffset: i &* 2, as: Int16.self))
            i &+= 1
        }
        return total
    }
}

/// The best `limit` (row, score) pairs offered, best first, equal scores by row (so the order does not depend on
/// the order of the offers); an offer below the current floor costs one comparison.
struct TopK {
    let limit: Int
    private(set) var items: [(row: Int, score: Float)] = []
    private var floor = -Float.infinity

    init(_ limit: Int) {
        self.limit = limit
        items.reserveCapacity(limit + 1)
    }

    @inline(__always)
    mutating func offer(_ row: Int, _ score: Float) {
        guard items.count < limit || score >= floor else { return }
        let at = items.firstIndex { $0.score < score || ($0.score == score && $0.row > row) } ?? items.count
        guard at < limit else { return }
        items.insert((row, score), at: at)
        if items.count > limit { items.removeLast() }
        if items.count == limit { floor = items[limit - 1].score }
    }
}

/// Users' vector indexes, loaded on first use and kept while they fit a memory budget (the least recently used
/// go first). Each carries the version of the user's memories it was loaded at: a search that finds the stored
/// version moved on (a write through this process or another sharing the database) loads the index again.
public final class VectorIndexCache: Sendable {
    private let indexes: BudgetCache<UUID, (version: Int64, index: UserVectors)>

    public init(budgetBytes: Int) {
        indexes = BudgetCache(budgetBytes: budgetBytes)
    }

    /// The user's index at `version`, if this process holds it.
    public func index(for user: UUID, version: Int64) -> UserVectors? {
        indexes.value(for: user, where: { $0.version == version })?.index
    }

    public func store(_ index: UserVectors, for user: UUID, version: Int64) {
        indexes.store((version, index), bytes: index.bytes, for: user)
    }

    public var residentBytes: Int { indexes.residentBytes }
}
