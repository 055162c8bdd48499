import Foundation
import LLM
import SQLKit
import Storage

/// One thing an agent or app remembers about a user.
public struct Memory: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public var namespace: String
    public var text: String
    public var tags: [String]
    public var metadata: JSONValue
    /// The embedding model (`<configured name>:<provider model>`) and the vector's length.
    public var model: String
    public var dimensions: Int
    public let createdAt: Date
    public var updatedAt: Date
}

/// The `memories` table and each user's memory version (raised by every write in the write's transaction, so that
/// an index loaded at an older version is known to be stale in every process). Every query is scoped by the owner.
public struct MemoryStore: Sendable {
    let db: any Database

    public init(db: any Database) {
        self.db = db
    }

    static let columns = "id, user_id, namespace, text, tags, metadata, model, dimensions, created_at, updated_at"

    static func memory(_ row: any SQLRow) throws -> Memory {
        Memory(id: try uuid(row, "id"), userID: try uuid(row, "user_id"), namespace: try row.decode(column: "namespace", as: String.self),
               text: try row.decode(column: "text", as: String.self),
               tags: (JSONValue.parse(try row.decode(column: "tags", as: String.self))?.arrayValue ?? []).compactMap(\.stringValue),
               metadata: JSONValue.parse(try row.decode(column: "metadata", as: String.self)) ?? .object([:]),
               model: try row.decode(column: "model", as: String.self), dimensions: Int(try row.decode(column: "dimensions", as: Int64.self)),
               createdAt: Date(millis: try row.decode(column: "created_at", as: Int64.self)),
               updatedAt: Date(millis: try row.decode(column: "updated_at", as: Int64.self)))
    }

    /// Float32 little-endian, base64: the same text on both engines.
    public static func encode(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return Data(bytes).base64EncodedString()
    }

    public static func decode(_ text: String) -> [Float] {
        guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return [] }
        return stride(from: 0, to: data.count, by: 4).map { offset in
            let bits = UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24
            return Float(bitPattern: bits)
        }
    }

    private static func bump(_ userID: UUID, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO memory_versions (user_id, version) VALUES (\(bind: userID.lowercased), 1)
            ON CONFLICT (user_id) DO UPDATE SET version = memory_versions.version + 1
            """).run()
    }

    public func version(userID: UUID) async throws -> Int64 {
        try await db.first("SELECT version FROM memory_versions WHERE user_id = \(bind: userID.lowercased)")?
            .decode(column: "version", as: Int64.self) ?? 0
    }

    public func insert(_ memory: Memory, vector: [Float]) async throws {
        try await db.transaction { sql in
            try await sql.raw("""
                INSERT INTO memories (id, user_id, namespace, text, text_folded, tags, metadata, embedding, model, dimensions, created_at, updated_at)
                VALUES (\(bind: memory.id.lowercased), \(bind: memory.userID.lowercased), \(bind: memory.namespace), \(bind: memory.text),
                        \(bind: memory.text.folded), \(bind: JSONValue.array(memory.tags.map(JSONValue.string)).jsonString),
                        \(bind: memory.metadata.jsonString), \(bind: Self.encode(vector)), \(bind: memory.model), \(bind: Int64(memory.dimensions)),
                        \(bind: memory.createdAt.millis), \(bind: memory.updatedAt.millis))
                """).run()
            try await Self.bump(memory.userID, on: sql)
        }
    }

    /// Saves a changed memory (a new vector with new text); false when it is not the user's.
    public func update(_ memory: Memory, vector: [Float]?) async throws -> Bool {
        try await db.transaction { sql in
            let changed = try await sql.raw("""
                UPDATE memories SET text = \(bind: memory.text), text_folded = \(bind: memory.text.folded),
                    tags = \(bind: JSONValue.array(memory.tags.map(JSONValue.string)).jsonString), metadata = \(bind: memory.metadata.jsonString),
                    embedding = COALESCE(\(bind: vector.map(Self.encode)), embedding), model = \(bind: memory.model),
                    dimensions = \(bind: Int64(memory.dimensions)), updated_at = \(bind: memory.updatedAt.millis)
                WHERE id = \(bind: memory.id.lowercased) AND user_id = \(bind: memory.userID.lowercased) RETURNING id
                """).first() != nil
            if changed { try await Self.bump(memory.userID, on: sql) }
            return changed
        }
    }

    public func find(id: UUID, userID: UUID) async throws -> Memory? {
        try await db.first("""
            SELECT \(unsafeRaw: Self.columns) FROM memories WHERE id = \(bind: id.lowercased) AND user_id = \(bind: userID.lowercased)
            """).map(Self.memory)
    }

    /// The user's memories among `ids`, by id.
    public func find(ids: [UUID], userID: UUID) async throws -> [UUID: Memory] {
        guard !ids.isEmpty else { return [:] }
        let list = SQLList(ids.map { SQLBind($0.lowercased) })
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM memories WHERE user_id = \(bind: userID.lowercased) AND id IN (\(list))
            """)
        return Dictionary(try rows.map(Self.memory).map { ($0.id, $0) }) { first, _ in first }
    }

    /// Deletes the memories `filter` selects; returns how many.
    private func delete(_ userID: UUID, where filter: SQLQueryString) async throws -> Int {
        try await db.transaction { sql in
            let rows = try await sql.raw("DELETE FROM memories WHERE user_id = \(bind: userID.lowercased) AND \(filter) RETURNING id").all()
            if !rows.isEmpty { try await Self.bump(userID, on: sql) }
            return rows.count
        }
    }

    public func delete(id: UUID, userID: UUID) async throws -> Bool {
        try await delete(userID, where: "id = \(bind: id.lowercased)") > 0
    }

    public func delete(namespace: String, userID: UUID) async throws -> Int {
        try await delete(userID, where: "namespace = \(bind: namespace)")
    }

    /// Newest first; `tags` must all be on a memory.
    public func list(userID: UUID, namespace: String?, tags: [String], page: PageRequest) async throws -> Page<Memory> {
        var filter: SQLQueryString = "user_id = \(bind: userID.lowercased)"
        if let namespace { filter = filter + " AND namespace = \(bind: namespace)" }
        // Tags are checked to hold no quote, so a quoted tag matches exactly one element of the JSON array.
        for tag in tags { filter = filter + " AND tags LIKE \(bind: "%\"" + tag + "\"%")" }
        let total = try await db.first("SELECT COUNT(*) AS n FROM memories WHERE \(filter)")?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.all("""
            SELECT \(unsafeRaw: Self.columns) FROM memories WHERE \(filter)
            ORDER BY created_at DESC, id DESC LIMIT \(bind: page.perPage) OFFSET \(bind: page.offset)
            """)
        return Page(items: try rows.map(Self.memory), total: total, request: page)
    }

    /// A model other than `model` (or other dimensions) that some of the namespace's memories are embedded with.
    public func otherModel(userID: UUID, namespace: String, than model: String, dimensions: Int) async throws -> (model: String, dimensions: Int)? {
        try await db.first("""
            SELECT model, dimensions FROM memories WHERE user_id = \(bind: userID.lowercased) AND namespace = \(bind: namespace)
            AND (model <> \(bind: model) OR dimensions <> \(bind: Int64(dimensions))) LIMIT 1
            """).map { (try $0.decode(column: "model", as: String.self), Int(try $0.decode(column: "dimensions", as: Int64.self))) }
    }

    /// How many memories (of all users) are not embedded with `model` at `dimensions`.
    public func countOther(model: String, dimensions: Int) async throws -> Int {
        try await db.first("""
            SELECT COUNT(*) AS n FROM memories WHERE model <> \(bind: model) OR dimensions <> \(bind: Int64(dimensions))
            """)?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Up to `limit` memories (of any user) not embedded with `model` at `dimensions`, by id.
    public func other(model: String, dimensions: Int, limit: Int) async throws -> [(id: UUID, userID: UUID, text: String, model: String)] {
        try await db.all("""
            SELECT id, user_id, text, model FROM memories WHERE model <> \(bind: model) OR dimensions <> \(bind: Int64(dimensions))
            ORDER BY id LIMIT \(bind: limit)
            """).map { (try uuid($0, "id"), try uuid($0, "user_id"), try $0.decode(column: "text", as: String.self), try $0.decode(column: "model", as: String.self)) }
    }

    /// Gives each memory its new vector, unless its text or model changed since it was read; raises its owner's
    /// version. Returns how many were moved.
    public func reembed(_ items: [(id: UUID, userID: UUID, text: String, model: String, vector: [Float])], model: String, dimensions: Int) async throws -> Int {
        try await db.transaction { sql in
            var moved = 0
            var owners = Set<UUID>()
            for item in items {
                let changed = try await sql.raw("""
                    UPDATE memories SET embedding = \(bind: Self.encode(item.vector)), model = \(bind: model), dimensions = \(bind: Int64(dimensions))
                    WHERE id = \(bind: item.id.lowercased) AND text = \(bind: item.text) AND model = \(bind: item.model) RETURNING id
                    """).first() != nil
                if changed {
                    moved += 1
                    owners.insert(item.userID)
                }
            }
            for owner in owners.sorted(by: { $0.uuidString < $1.uuidString }) { try await Self.bump(owner, on: sql) }
            return moved
        }
    }

    /// Every memory of the user embedded with `model`, as an index, and the version it stands at. The version is
    /// read first: a write landing meanwhile makes the index look older than it is, and the next search reloads it.
    public func load(userID: UUID, model: String, dimensions: Int) async throws -> (index: UserVectors, version: Int64) {
        let version = try await self.version(userID: userID)
        let rows = try await db.all("""
            SELECT id, namespace, tags, text_folded, embedding FROM memories
            WHERE user_id = \(bind: userID.lowercased) AND model = \(bind: model) AND dimensions = \(bind: Int64(dimensions))
            ORDER BY created_at, id
            """)
        var index = UserVectors(dimensions: dimensions)
        for row in rows {
            let tags = (JSONValue.parse(try row.decode(column: "tags", as: String.self))?.arrayValue ?? []).compactMap(\.stringValue)
            index.append(UserVectors.Entry(id: try uuid(row, "id"), namespace: try row.decode(column: "namespace", as: String.self),
                                           tags: Set(tags), folded: try row.decode(column: "text_folded", as: String.self)),
                         vector: Self.decode(try row.decode(column: "embedding", as: String.self)))
        }
        return (index, version)
    }
}
