import Core
import Foundation
import LLM
import SQLKit
import Storage

/// One collection's records: every statement is scoped by ownership (a user-owned record is found only by its owner;
/// another user's id is simply not there), every value is bound, and every write is validated by the schema first.
public struct CollectionStore: Sendable {
    public let collection: CollectionSpec
    /// The whole app, for the collections this one's relations point at or are pointed at from.
    public let blueprint: Blueprint
    let db: any Database
    let clock: WallClock
    /// List totals, shared by the app's stores (nil: always count).
    let counts: CountCache?

    public init(collection: CollectionSpec, blueprint: Blueprint, db: any Database, clock: WallClock, counts: CountCache? = nil) {
        self.collection = collection
        self.blueprint = blueprint
        self.db = db
        self.clock = clock
        self.counts = counts
    }

    var table: String { collection.table }

    /// What the caller may do here, with `@now` and `@body` filled in for this request.
    func access(_ caller: Caller, body: [String: JSONValue]? = nil) -> CollectionAccess {
        CollectionAccess(collection, caller: caller, nowMillis: clock.now.millis, body: body, flags: blueprint.flags, engine: db.engine)
    }

    /// A filter the caller may use here: a 400 naming `filter` otherwise (unknown fields, values that do not compare).
    public func check(_ filter: FilterExpression, caller: Caller) throws(AppError) {
        _ = try access(caller).sql.condition(filter)
    }

    /// What a caller's `?filter=` macros stand for now.
    public func filterContext(_ caller: Caller) -> FilterContext {
        access(caller).context
    }

    public func list(_ query: ListQuery, caller: Caller) async throws -> Page<JSONValue> {
        let access = access(caller)
        for key in query.sort where !access.readsEverywhere(key.field) {
            throw FilterSQL.invalid("sort", "cannot sort by \(key.field): some records do not show it to you")
        }
        var condition = try access.scope(.list)
        if let filter = query.filter { condition = condition + " AND " + (try access.sql.condition(filter)) }
        if let search = query.search {
            condition = condition + (db.engine == .postgres ? " AND strpos(search_folded, \(bind: search)) > 0" : " AND instr(search_folded, \(bind: search)) > 0")
        }
        // Nulls sort last ascending and first descending on both engines. Only nullable fields say so: a NULLS clause
        // against SQLite's own default keeps it from reading the order off an index. The tie-breaker, `id`, runs
        // the way the last key does, so one index scan serves the whole order.
        let order = query.sort.map { key in
            let nullable = collection.field(key.field)?.nullable ?? false
            return "\"\(key.field)\" " + (key.descending ? "DESC" : "ASC") + (nullable ? (key.descending ? " NULLS FIRST" : " NULLS LAST") : "")
        } + [query.sort.last?.descending == true ? "id DESC" : "id ASC"]
        // The version of the data comes with the page (on PostgreSQL, in the page's own statement: no extra round
        // trip), and the total is counted after it, or remembered at that version.
        let remembered = counts != nil && collection.owner != .team
        let versioned = remembered && db.engine == .postgres
        let localVersion = remembered && !versioned ? counts?.localVersion : nil
        let rows = try await db.all("SELECT *" + (versioned ? ", " + CountCache.versionQuery(app: blueprint.name) + " AS \"_version\"" : "")
            + " FROM \(ident: table) WHERE " + condition
            + " ORDER BY \(unsafeRaw: order.joined(separator: ", ")) LIMIT \(bind: query.page.perPage) OFFSET \(bind: query.page.offset)")
        let version = versioned ? try rows.first?.decode(column: "_version", as: Int64.self) : localVersion
        let total = try await count("SELECT COUNT(*) AS total FROM \(ident: table) WHERE " + condition, at: version)
        let items = try await expanded(try rows.map { try record($0, access: access, fields: query.fields) }, fields: query.expand, caller: caller)
        return Page(items: items, total: Int(total), request: query.page)
    }

    public func get(_ id: String, caller: Caller, fields: Set<String>? = nil, expand: [String] = []) async throws -> JSONValue {
        let access = access(caller)
        guard let key = UUID.parse(id)?.lowercased,
              let row = try await db.first("SELECT * FROM \(ident: table) WHERE id = \(bind: key) AND " + (try access.scope(.view))) else {
            throw AppError.notFound("record")
        }
        return try await expanded([try record(row, access: access, fields: fields)], fields: expand, caller: caller)[0]
    }

    public func create(_ body: JSONValue, caller: Caller) async throws -> JSONValue {
        let access = access(caller, body: body.objectValue)
        try access.requireWriter(.create)
        let values = try RecordInput.values(body, collection, .create)
        let id = UUID.random().lowercased
        let owner = collection.owner == .shared ? nil : caller.id
        let team = collection.owner == .team ? body.objectValue.flatMap(RecordInput.teamID) : nil
        var proposed = values
        proposed["id"] = .string(id)
        if let owner { proposed["owner_id"] = .string(owner) }
        if let team { proposed["team_id"] = .string(team) }
        try access.requireWritable(body.objectValue ?? [:], record: .object(proposed))
        try access.requireCreate(.object(proposed))
        let created = JSONValue.object(proposed)
        let now = clock.now.millis
        let record = shown(id: id, owner: owner, team: team, createdAt: now, updatedAt: now, values: values)
        try await writing { sql in
            var problems = try await self.relationProblems(values, caller: caller, on: sql)
            if let team, try await sql.raw("SELECT 1 AS found FROM team_members WHERE team_id = \(bind: team) AND user_id = \(bind: caller.id)").first() == nil {
                problems.append(FieldError(field: "team_id", code: "not_found", message: "is not a team you belong to"))
            }
            if !problems.isEmpty { throw AppError.validation(problems) }
            try await self.insert(id: id, owner: owner, team: team, values: values, now: now, on: sql)
            try await self.runHooks(.afterCreate, record: created, caller: caller, on: sql, now: now)
            try await self.recordEvent("created", id: id, before: nil, after: record, now: now, on: sql)
        }
        return access.readable(record)
    }

    /// A total, from the cache when it was counted at `version` of the data (read before this count); counted when
    /// there is no version (team-owned totals change when memberships do, which no write here tells the cache).
    func count(_ query: SQLQueryString, at version: Int64?) async throws -> Int64 {
        guard let counts, let version else { return try await db.first(query)?.decode(column: "total", as: Int64.self) ?? 0 }
        let key = CountCache.key(query, on: db.sql)
        if let total = counts.total(for: key, at: version) { return total }
        let total = try await db.first(query)?.decode(column: "total", as: Int64.self) ?? 0
        counts.remember(total, for: key, at: version)
        return total
    }

    /// Runs a write transaction that moves the app's data version on (see `CountCache`); once it committed (or
    /// failed, which changes nothing but costs nothing to assume), this process's remembered totals are forgotten.
    func writing<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        defer { counts?.written() }
        let app = blueprint.name
        let versioned = db.engine == .postgres
        return try await db.transaction { sql in
            let result = try await body(sql)
            if versioned { try await CountCache.bump(app: app, on: sql) }
            return result
        }
    }

    /// A record as the API shows it, from what was just written (hidden fields left out): no need to read it back.
    func shown(id: String, owner: String?, team: String? = nil, createdAt: Int64, updatedAt: Int64, values: [String: JSONValue]) -> JSONValue {
        var object: [String: JSONValue] = ["id": .string(id), "created_at": .string(RFC3339.format(millis: createdAt)),
                                           "updated_at": .string(RFC3339.format(millis: updatedAt))]
        if collection.showsSystemField(.ownerID) { object["owner_id"] = owner.map(JSONValue.string) ?? .null }
        if collection.showsSystemField(.teamID) { object["team_id"] = team.map(JSONValue.string) ?? .null }
        for field in collection.fields where !field.hidden {
            object[field.name] = ColumnCodec.stored(values[field.name] ?? .null, as: field)
        }
        return .object(object)
    }

    /// Inserts a validated record; with `ignoreExisting` an id already there is left as it is (seeds).
    func insert(id: String, owner: String?, team: String? = nil, values: [String: JSONValue], now: Int64, ignoreExisting: Bool = false,
                on sql: any SQLDatabase) async throws {
        let fields = collection.fields
        var columns = ["id", "owner_id", "created_at", "updated_at"] + fields.map(\.name)
        var binds: [any Encodable & Sendable] = [id, owner, now, now] + fields.map { ColumnCodec.bind(values[$0.name] ?? .null, as: $0) }
        if collection.owner == .team {
            columns.append("team_id")
            binds.append(team)
        }
        if !collection.search.isEmpty {
            columns.append("search_folded")
            binds.append(searchText(values))
        }
        try await sql.raw("INSERT INTO \(ident: table) (\(idents: columns, joinedBy: ", ")) VALUES (\(binds: binds))"
            + (ignoreExisting ? " ON CONFLICT (id) DO NOTHING" : "")).run()
    }

    /// PUT (`replace`) or PATCH: read, validate against what is stored, write, in one transaction.
    public func update(_ id: String, _ body: JSONValue, replace: Bool, caller: Caller) async throws -> JSONValue {
        guard let key = UUID.parse(id)?.lowercased else { throw AppError.notFound("record") }
        let access = access(caller, body: body.objectValue)
        let scope = try access.scope(.update)
        let collection = self.collection
        let now = clock.now.millis
        let table = self.table
        let updated: JSONValue? = try await writing { sql in
            guard let row = try await sql.raw("SELECT * FROM \(ident: table) WHERE id = \(bind: key) AND " + scope).first() else { return nil }
            try access.requireWriter(.update)
            let existing = try ColumnCodec.decode(row, collection.fields)
            let stored = try self.record(row, access: nil, fields: nil)
            try access.requireWritable(body.objectValue ?? [:], record: stored)
            let values = try RecordInput.values(body, collection, replace ? .replace(existing: existing) : .patch(existing: existing))
            let given = values.filter { body[$0.key] != nil }
            let problems = try await self.relationProblems(given, caller: caller, on: sql)
            if !problems.isEmpty { throw AppError.validation(problems) }
            var assignments: [SQLQueryString] = ["updated_at = \(bind: now)"]
            for field in collection.fields {
                guard let value = values[field.name] else { continue }
                assignments.append("\(ident: field.name) = \(bind: ColumnCodec.bind(value, as: field))")
            }
            if !collection.search.isEmpty {
                assignments.append("search_folded = \(bind: self.searchText(existing.merging(values) { $1 }))")
            }
            try await sql.raw("UPDATE \(ident: table) SET " + assignments.joined(separator: ", ") + " WHERE id = \(bind: key)").run()
            let owner = try row.decodeNil(column: "owner_id") ? nil : try row.decode(column: "owner_id", as: String.self)
            let team = stored["team_id"]?.stringValue
            let after = self.shown(id: key, owner: owner, team: team, createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: now,
                                   values: existing.merging(values) { $1 })
            try await self.runHooks(.afterUpdate, record: .object((stored.objectValue ?? [:]).merging(values) { $1 }), caller: caller, on: sql, now: now)
            try await self.recordEvent("updated", id: key, before: stored, after: after, now: now, on: sql)
            return after
        }
        guard let updated else { throw AppError.notFound("record") }
        return access.readable(updated)
    }

    /// Deletes a record, and does to the records that point at it what their relations say, in one transaction.
    public func delete(_ id: String, caller: Caller) async throws {
        let access = access(caller)
        let scope = try access.scope(.delete)
        guard let key = UUID.parse(id)?.lowercased else { throw AppError.notFound("record") }
        let table = self.table
        let now = clock.now.millis
        try await writing { sql in
            guard let row = try await sql.raw("SELECT * FROM \(ident: table) WHERE id = \(bind: key) AND " + scope).first() else {
                throw AppError.notFound("record")
            }
            try access.requireWriter(.delete)
            let stored = try await self.deleteRecord(row, on: sql, now: now)
            try await self.runHooks(.afterDelete, record: stored, caller: caller, on: sql, now: now)
        }
    }

    /// The folded text `?q=` searches: the search fields' values, one per line.
    func searchText(_ values: [String: JSONValue]) -> String {
        collection.search.compactMap { values[$0]?.stringValue?.folded }.joined(separator: "\n")
    }

    /// A row as the API returns it: the record's own columns, then its fields; hidden ones left out, and, for a
    /// caller (`access`), those their read rules hide and those they did not ask for.
    func record(_ row: any SQLRow, access: CollectionAccess?, fields wanted: Set<String>?) throws -> JSONValue {
        var object: [String: JSONValue] = [:]
        object["id"] = .string(try row.decode(column: "id", as: String.self))
        for system in [SystemField.ownerID, .teamID] where collection.showsSystemField(system) {
            let column = system.rawValue
            object[column] = try row.decodeNil(column: column) ? .null : .string(try row.decode(column: column, as: String.self))
        }
        for name in ["created_at", "updated_at"] {
            object[name] = .string(RFC3339.format(millis: try row.decode(column: name, as: Int64.self)))
        }
        for field in collection.fields where !field.hidden {
            object[field.name] = try ColumnCodec.decode(row, field)
        }
        guard case .object(var shown) = access?.readable(.object(object)) ?? .object(object) else { return .object(object) }
        if let wanted { shown = shown.filter { $0.key == "id" || wanted.contains($0.key) } }
        return .object(shown)
    }
}
