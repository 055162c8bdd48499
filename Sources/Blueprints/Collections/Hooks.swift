import Core
import Foundation
import LLM
import SQLKit
import Storage

/// What a hook's values may refer to: `@record.<field>` (the record the hook runs for), `@auth.id`, `@now`.
enum HookValues {
    static func isTemplate(_ value: JSONValue) -> Bool {
        guard case .string(let text) = value else { return false }
        return text.hasPrefix("@record.") || text == "@auth.id" || text == "@now"
    }

    static func fill(_ value: JSONValue, record: JSONValue, caller: Caller, nowMillis: Int64) -> JSONValue {
        guard case .string(let text) = value, isTemplate(value) else { return value }
        if text == "@auth.id" { return .string(caller.id) }
        if text == "@now" { return .string(RFC3339.format(millis: nowMillis)) }
        return record[String(text.dropFirst("@record.".count))] ?? .null
    }
}

/// Hooks run in the transaction of the write they follow: if a step cannot be done (a counter would leave its
/// schema's range, a created record would be invalid), the write is rolled back with it and the client gets 409
/// `hook_failed`. Records that hooks create or delete do not run hooks of their own.
extension CollectionStore {
    func runHooks(_ event: HookEvent, record: JSONValue, caller: Caller, on sql: any SQLDatabase, now: Int64) async throws {
        for action in collection.hooks[event] ?? [] {
            switch action {
            case .adjust(let target, let field, let by):
                try await change(target, field, record: record, caller: caller, on: sql, now: now) { current in
                    let (sum, overflow) = (current.intValue.map(Int64.init) ?? 0).addingReportingOverflow(by)
                    guard !overflow else { throw Self.hookFailed(event, "\(field) would overflow") }
                    return .int(sum)
                }
            case .set(let target, let field, let value):
                try await change(target, field, record: record, caller: caller, on: sql, now: now) { _ in
                    HookValues.fill(value, record: record, caller: caller, nowMillis: now)
                }
            case .create(let name, let values):
                guard let target = blueprint.collection(named: name) else { continue }
                let filled = values.mapValues { HookValues.fill($0, record: record, caller: caller, nowMillis: now) }
                let checked: [String: JSONValue]
                do {
                    checked = try RecordInput.values(.object(filled), target, .seed)
                } catch {
                    let reason = error.fieldErrors.map { "\($0.field) \($0.message)" }.joined(separator: "; ")
                    throw Self.hookFailed(event, "the \(name) record it creates is not valid: \(reason)")
                }
                let created = store(for: target)
                let id = UUID.random().lowercased
                try await created.insert(id: id, owner: caller.id, values: checked, now: now, on: sql)
                try await created.recordEvent("created", id: id, before: nil,
                                              after: created.shown(id: id, owner: caller.id, createdAt: now, updatedAt: now, values: checked),
                                              now: now, on: sql)
            case .webhook(let url, let secret):
                // Hidden fields stay in the database, webhooks included.
                let hidden = Set(collection.fields.filter(\.hidden).map(\.name))
                let shown = record.objectValue.map { JSONValue.object($0.filter { !hidden.contains($0.key) }) } ?? record
                let payload: JSONValue = ["event": .string(event.rawValue), "app": .string(blueprint.name),
                                          "collection": .string(collection.name), "record": shown,
                                          "occurred_at": .string(RFC3339.format(millis: now))]
                try await sql.raw("""
                    INSERT INTO webhook_outbox (id, app, url, secret_env, event, payload, attempts, next_attempt_at, created_at)
                    VALUES (\(bind: UUID.random().lowercased), \(bind: blueprint.name), \(bind: url), \(bind: secret), \(bind: event.rawValue),
                            \(bind: payload.jsonString), 0, \(bind: now), \(bind: now))
                    """).run()
            }
        }
    }

    /// Reads one field of the profile or related record, computes its new value, checks it against the field's
    /// schema, writes it.
    private func change(_ target: HookTarget, _ name: String, record: JSONValue, caller: Caller, on sql: any SQLDatabase, now: Int64,
                        _ compute: (JSONValue) throws -> JSONValue) async throws {
        let spec: CollectionSpec
        let id: String
        switch target {
        case .profile:
            guard let profile = blueprint.profile else { return }
            spec = profile
            id = caller.id
            try await ProfileRows.ensure(profile, blueprint: blueprint, userID: caller.id, db: db, clock: clock, on: sql)
        case .relation(let relationField):
            guard let relation = collection.relations.first(where: { $0.field == relationField }),
                  let pointed = record[relationField]?.stringValue, let related = blueprint.collection(named: relation.collection) else { return }
            spec = related
            id = pointed
        }
        guard let field = spec.field(name),
              let row = try await sql.raw("SELECT * FROM \(ident: spec.table) WHERE id = \(bind: id)").first() else { return }
        let value = try compute(try ColumnCodec.decode(row, field))
        let problems = RecordInput.problems(value, field)
        if !problems.isEmpty {
            throw Self.hookFailed(nil, "it would set \(spec.name).\(name) to \(value.jsonString), which \(problems.map(\.message).joined(separator: "; "))")
        }
        try await sql.raw("""
            UPDATE \(ident: spec.table) SET \(ident: name) = \(bind: ColumnCodec.bind(value, as: field)), updated_at = \(bind: now)
            WHERE id = \(bind: id)
            """).run()
        // A related record that changed is a realtime event like any other change (the profile has no subscribers).
        if case .relation = target {
            let related = store(for: spec)
            let before = try related.record(row, access: nil, fields: nil)
            guard case .object(var after) = before else { return }
            if !field.hidden { after[name] = ColumnCodec.stored(value, as: field) }
            after["updated_at"] = .string(RFC3339.format(millis: now))
            try await related.recordEvent("updated", id: id, before: before, after: .object(after), now: now, on: sql)
        }
    }

    static func hookFailed(_ event: HookEvent?, _ reason: String) -> AppError {
        AppError.conflict("hook_failed", "The change was not made: a hook\(event.map { " (\($0.rawValue))" } ?? "") failed: \(reason).")
    }
}

/// The profile: one record per user in the profile table, its id the user's, made with its defaults on first use.
public enum ProfileRows {
    static func ensure(_ profile: CollectionSpec, blueprint: Blueprint, userID: String, db: any Database, clock: WallClock,
                       on sql: any SQLDatabase) async throws {
        let defaults = try RecordInput.values(.object([:]), profile, .seed)
        try await CollectionStore(collection: profile, blueprint: blueprint, db: db, clock: clock)
            .insert(id: userID, owner: userID, values: defaults, now: clock.now.millis, ignoreExisting: true, on: sql)
    }
}

extension ProfileRows {
    /// A user's profile fields as rules see them: stored values, or the defaults of a profile not made yet.
    public static func values(_ profile: CollectionSpec, userID: UUID, db: any Database) async throws -> [String: JSONValue] {
        guard let row = try await db.first("SELECT * FROM \(ident: profile.table) WHERE id = \(bind: userID.lowercased)") else {
            return try RecordInput.values(.object([:]), profile, .seed)
        }
        return try ColumnCodec.decode(row, profile.fields)
    }
}

extension CollectionStore {
    /// The caller's profile (made on first use).
    public func profile(caller: Caller) async throws -> JSONValue {
        try await ProfileRows.ensure(collection, blueprint: blueprint, userID: caller.id, db: db, clock: clock, on: db.sql)
        return try await get(caller.id, caller: caller)
    }

    /// Changes the caller's own profile fields (readonly ones are the hooks').
    public func updateProfile(_ body: JSONValue, caller: Caller) async throws -> JSONValue {
        try await ProfileRows.ensure(collection, blueprint: blueprint, userID: caller.id, db: db, clock: clock, on: db.sql)
        return try await update(caller.id, body, replace: false, caller: caller)
    }
}
