import Core
import Foundation
import LLM
import SQLKit
import Storage

/// Relations between collections: a record may point only at records its writer may view; deleting a record
/// cascades, sets null or is refused as each relation that points at it declares, in the delete's transaction;
/// `?expand=` embeds the records a page points at, those the caller may view.
extension CollectionStore {
    /// Deletions that cascade further than this are refused: a chain that long is a modelling mistake.
    static let maxCascadeDepth = 16

    func store(for collection: CollectionSpec) -> CollectionStore {
        CollectionStore(collection: collection, blueprint: blueprint, db: db, clock: clock, counts: counts)
    }

    /// Field errors for relation fields in `values` that point at nothing the caller may view.
    func relationProblems(_ values: [String: JSONValue], caller: Caller, on sql: any SQLDatabase) async throws -> [FieldError] {
        var problems: [FieldError] = []
        for relation in collection.relations {
            guard let text = values[relation.field]?.stringValue, let target = blueprint.collection(named: relation.collection) else { continue }
            let scope = try store(for: target).access(caller).scope(.view)
            var found: (any SQLRow)?
            if let id = UUID.parse(text) {
                found = try await sql.raw("SELECT id FROM \(ident: target.table) WHERE id = \(bind: id.lowercased) AND " + scope).first()
            }
            if found == nil {
                problems.append(FieldError(field: relation.field, code: "not_found", message: "points at no \(target.name) record you can see"))
            }
        }
        return problems
    }

    /// Deletes the record `row` holds (already read by the caller), after doing to the records that point at it what
    /// their relations declare; every record deleted or changed on the way is a realtime event too. Returns the
    /// record as it was.
    @discardableResult
    func deleteRecord(_ row: any SQLRow, on sql: any SQLDatabase, now: Int64, depth: Int = 0) async throws -> JSONValue {
        guard depth < Self.maxCascadeDepth else {
            throw AppError.conflict("cascade_too_deep", "Deleting this record would cascade through more than \(Self.maxCascadeDepth) collections.")
        }
        let id = try row.decode(column: "id", as: String.self)
        for source in blueprint.collections {
            for relation in source.relations where relation.collection == collection.name {
                let pointing = try await sql.raw("SELECT * FROM \(ident: source.table) WHERE \(ident: relation.field) = \(bind: id)").all()
                guard !pointing.isEmpty else { continue }
                let child = store(for: source)
                switch relation.onDelete {
                case .restrict:
                    throw AppError.conflict("record_referenced", "\(pointing.count) \(source.name) record(s) point at this record through \(relation.field).")
                case .setNull:
                    try await sql.raw("""
                        UPDATE \(ident: source.table) SET \(ident: relation.field) = NULL, updated_at = \(bind: now)
                        WHERE \(ident: relation.field) = \(bind: id)
                        """).run()
                    for record in pointing {
                        let before = try child.record(record, access: nil, fields: nil)
                        guard case .object(var after) = before, let recordID = after["id"]?.stringValue else { continue }
                        after[relation.field] = .null
                        after["updated_at"] = .string(RFC3339.format(millis: now))
                        try await child.recordEvent("updated", id: recordID, before: before, after: .object(after), now: now, on: sql)
                    }
                case .cascade:
                    for record in pointing {
                        let recordID = try record.decode(column: "id", as: String.self)
                        // A record pointing at itself goes with this one's own delete; one an earlier branch of the
                        // cascade already deleted is read again so that it is not deleted (and announced) twice.
                        if source.name == collection.name && recordID == id { continue }
                        guard let current = try await sql.raw("SELECT * FROM \(ident: source.table) WHERE id = \(bind: recordID)").first() else {
                            continue
                        }
                        try await child.deleteRecord(current, on: sql, now: now, depth: depth + 1)
                    }
                }
            }
        }
        try await sql.raw("DELETE FROM \(ident: collection.table) WHERE id = \(bind: id)").run()
        let before = try record(row, access: nil, fields: nil)
        try await recordEvent("deleted", id: id, before: before, after: nil, now: now, on: sql)
        return before
    }

    /// `records` with an `expand` member holding, for each relation field asked for, the record it points at (when
    /// the caller may view it).
    func expanded(_ records: [JSONValue], fields: [String], caller: Caller) async throws -> [JSONValue] {
        guard !fields.isEmpty else { return records }
        var found: [String: [String: JSONValue]] = [:]
        for name in fields {
            guard let relation = collection.relations.first(where: { $0.field == name }),
                  let target = blueprint.collection(named: relation.collection) else { continue }
            let ids = Set(records.compactMap { $0[name]?.stringValue.flatMap(UUID.parse)?.lowercased })
            guard !ids.isEmpty else { continue }
            let targetStore = store(for: target)
            let access = targetStore.access(caller)
            let rows = try await db.all("SELECT * FROM \(ident: target.table) WHERE id IN (\(binds: Array(ids))) AND " + (try access.scope(.view)))
            var byID: [String: JSONValue] = [:]
            for row in rows {
                let record = try targetStore.record(row, access: access, fields: nil)
                if let id = record["id"]?.stringValue { byID[id] = record }
            }
            found[name] = byID
        }
        return records.map { record in
            guard case .object(var object) = record else { return record }
            var expand: [String: JSONValue] = [:]
            for name in fields {
                guard let id = object[name]?.stringValue.flatMap(UUID.parse)?.lowercased else { continue }
                expand[name] = found[name]?[id] ?? .null
            }
            object["expand"] = .object(expand)
            return .object(object)
        }
    }

    /// `?expand=` names relation fields the caller can see.
    static func expandProblems(_ names: [String], _ collection: CollectionSpec) -> [FieldError] {
        names.filter { name in !collection.relations.contains { $0.field == name } || collection.field(name)?.hidden == true }
            .map { FieldError(field: "expand", code: "unknown_relation", message: "\($0) is not a relation of \(collection.name)") }
    }
}
