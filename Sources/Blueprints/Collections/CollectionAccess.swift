import Core
import Foundation
import LLM
import SQLKit
import Storage

/// Who is asking, as the collections see it.
public struct Caller: Sendable {
    public let id: String
    public let role: String
    public let tier: String
    /// The caller's profile fields, loaded when rules read them (`@auth.profile.<field>`).
    public let profile: [String: JSONValue]
    /// The teams the caller belongs to, where realtime events of team-owned records are checked in memory (SQL
    /// statements ask `team_members` themselves).
    public var teams: Set<String> = []

    public init(id: UUID, role: String, tier: String, profile: [String: JSONValue] = [:]) {
        self.id = id.lowercased
        self.role = role
        self.tier = tier
        self.profile = profile
    }

    public var isAdmin: Bool { role == "admin" }

    /// A user as an app's collections see them: with their profile when the app's rules read it.
    public static func of(_ user: User, in blueprint: Blueprint, db: any Database) async throws -> Caller {
        guard blueprint.rulesReadProfile, let profile = blueprint.profile else { return Caller(id: user.id, role: user.role, tier: user.tier) }
        return Caller(id: user.id, role: user.role, tier: user.tier, profile: try await ProfileRows.values(profile, userID: user.id, db: db))
    }

    /// What `@auth.*` stands for.
    var auth: [String: JSONValue] {
        var auth: [String: JSONValue] = ["id": .string(id), "role": .string(role), "tier": .string(tier)]
        for (name, value) in profile { auth["profile." + name] = value }
        return auth
    }
}

/// What one caller may do with one collection, decided by ownership and the collection's rules: every condition here
/// is compiled into the SQL of the statement it guards, so no rule is checked by loading rows it would hide.
///
/// Ownership first: a user-owned record is only ever its owner's. Then the rules: a failed list rule filters, a
/// failed view, update or delete rule makes the record not found, a failed create rule is a 403. A shared collection
/// is written by administrators (who pass its write rules), or by anyone its create, update or delete rule admits.
struct CollectionAccess {
    let collection: CollectionSpec
    let caller: Caller
    let context: FilterContext
    let engine: Engine
    /// The fields' read rules for this caller, read once for the request (a rule that cannot be read admits nobody).
    let readRules: [String: FilterExpression]

    init(_ collection: CollectionSpec, caller: Caller, nowMillis: Int64, body: [String: JSONValue]? = nil, flags: [String: Bool] = [:],
         engine: Engine) {
        self.collection = collection
        self.caller = caller
        self.context = FilterContext(nowMillis: nowMillis, auth: caller.auth, body: body, flags: flags)
        self.engine = engine
        var readContext = context
        readContext.body = nil
        var readRules: [String: FilterExpression] = [:]
        for field in collection.fields {
            guard let rule = field.readRule else { continue }
            readRules[field.name] = (try? FilterParser.parse(rule, context: readContext)) ?? .constant(false)
        }
        self.readRules = readRules
    }

    /// Filters compiled for this caller: comparisons on fields they may not read never hold.
    var sql: FilterSQL {
        var sql = FilterSQL(collection: collection, engine: engine)
        sql.readRules = readRules
        return sql
    }

    /// The caller's records that `rule` admits, as a SQL condition: their own, their teams', or all of a shared
    /// collection's.
    func scope(_ rule: Rule) throws(AppError) -> SQLQueryString {
        let owned: SQLQueryString = switch collection.owner {
        case .user: "owner_id = \(bind: caller.id)"
        case .team: "team_id IN (SELECT team_id FROM team_members WHERE user_id = \(bind: caller.id))"
        case .shared: "1 = 1"
        }
        guard let expression = try expression(rule) else { return owned }
        return owned + " AND " + (try FilterSQL(collection: collection, engine: engine).condition(expression))
    }

    /// The rule as this caller's request fills it in; nil when nothing limits the operation.
    func expression(_ rule: Rule) throws(AppError) -> FilterExpression? {
        if collection.owner == .shared, caller.isAdmin, rule != .list, rule != .view { return nil }
        guard let text = collection.rules[rule] else { return nil }
        return try parse(text, body: rule.writes)
    }

    /// Shared collections are written by administrators, or by whoever the operation's rule admits.
    func requireWriter(_ rule: Rule) throws(AppError) {
        if collection.owner == .shared, !caller.isAdmin, collection.rules[rule] == nil {
            throw AppError(status: 403, code: "admin_required", title: "Forbidden",
                           detail: "\(collection.name) is shared by every user: only administrators change it.")
        }
    }

    /// The create rule, checked against the record about to be created.
    func requireCreate(_ record: JSONValue) throws(AppError) {
        guard let expression = try expression(.create), !FilterMatch(collection: collection).matches(expression, record) else { return }
        throw AppError(status: 403, code: "rule_failed", title: "Forbidden",
                       detail: "The create rule of \(collection.name) does not allow this record: \(collection.rules[.create] ?? "").")
    }

    /// Each field the body sets whose write rule does not admit this caller, checked against `record` (the record as
    /// it stands, or as it would be created).
    func requireWritable(_ body: [String: JSONValue], record: JSONValue) throws(AppError) {
        var refused: [FieldError] = []
        for field in collection.fields where body[field.name] != nil {
            guard let text = field.writeRule else { continue }
            if !FilterMatch(collection: collection).matches(try parse(text, body: true), record) {
                refused.append(FieldError(field: field.name, code: "not_writable", message: "the caller may not set this field"))
            }
        }
        if !refused.isEmpty {
            throw AppError(status: 403, code: "field_rule_failed", title: "Forbidden",
                           detail: "Some fields may not be set by this caller.", fieldErrors: refused)
        }
    }

    /// The record without the fields whose read rule does not admit this caller.
    func readable(_ record: JSONValue) -> JSONValue {
        guard case .object(var object) = record else { return record }
        for (name, rule) in readRules where object[name] != nil && !FilterMatch(collection: collection).matches(rule, record) {
            object.removeValue(forKey: name)
        }
        return .object(object)
    }

    /// Whether the caller reads `field` in every record (its read rule holds whatever the record): sorting and
    /// aggregating by a field is only allowed then, since an order or a sum would tell what the rule hides.
    func readsEverywhere(_ field: String) -> Bool {
        readRules[field].map { $0 == .constant(true) } ?? true
    }

    private func parse(_ text: String, body: Bool) throws(AppError) -> FilterExpression {
        var context = self.context
        if !body { context.body = nil }
        do {
            return try FilterParser.parse(text, context: context)
        } catch {
            // Rules were checked when the blueprint loaded; one that fails now is the server's fault, not the caller's.
            throw AppError(status: 500, code: "rule_error", title: "Internal server error", detail: "A rule of \(collection.name) could not be read.")
        }
    }
}
