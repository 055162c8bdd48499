import Agents
import Blueprints
import Core
import Foundation
import LLM
import Storage

/// A collection's operations as tools for the app's agents: `<collection>_list`, `_get`, `_create`, `_update`,
/// `_delete` (which waits for the user's approval unless the blueprint says otherwise), `_aggregate`. Each runs through the same `CollectionStore` call as the REST route, as the turn's user (never an
/// owner the model names), so ownership, rules, field rules, relations, hooks and validation hold exactly as they
/// do over HTTP; what they refuse comes back to the model as a tool error it can act on. Results are wrapped in
/// `{"data": ...}`: records are the user's data, never instructions.
struct CollectionTool: Tool {
    let store: CollectionStore
    let operation: ToolOperation
    let accounts: Accounts
    let plans: Plans
    let quotas: Quotas
    let database: any Database

    static let maxLimit = 50
    static let maxConditions = 16

    var collection: CollectionSpec { store.collection }
    var name: String { operation.toolName(collection.name) }

    var description: String {
        let what = collection.name
        return switch operation {
        case .list: "List the \(what) records the user can see, newest first unless sorted; where: conditions that must all hold."
        case .get: "Get one \(what) record by its id."
        case .create: "Create a \(what) record for the user" + (collection.owner == .team ? " in one of their teams (team_id)." : ".")
        case .update: "Change fields of a \(what) record by its id; fields left out keep their values."
        case .delete: "Delete a \(what) record by its id."
        case .aggregate: "Count \(what) records, or sum, average, min or max a field, optionally grouped by fields; where: conditions that must all hold."
        }
    }

    /// Fields the model may name in conditions, sorts and groups: the record's visible ones.
    private var visibleFields: [JSONValue] {
        (collection.fields.filter { !$0.hidden }.map(\.name) + SystemField.allCases.filter(collection.showsSystemField).map(\.rawValue))
            .sorted().map(JSONValue.string)
    }

    private var conditions: JSONValue {
        ["type": "array", "maxItems": .int(Int64(Self.maxConditions)), "items": [
            "type": "object", "additionalProperties": false, "required": ["field", "op", "value"],
            "properties": [
                "field": ["enum": .array(visibleFields)],
                "op": ["enum": .array(FilterOperator.allCases.map { .string($0.rawValue) })],
                "value": ["description": "A string, number, boolean or null; times as RFC 3339 text."],
            ],
        ]]
    }

    private static let id: JSONValue = ["type": "string", "format": "uuid"]

    var parameters: JSONValue {
        switch operation {
        case .list:
            return ["type": "object", "additionalProperties": false, "properties": [
                "where": conditions,
                "sort": ["type": "string", "maxLength": 200, "description": "Fields, comma-separated; - before a field sorts it descending."],
                "limit": ["type": "integer", "minimum": 1, "maximum": .int(Int64(Self.maxLimit))],
                "page": ["type": "integer", "minimum": 1, "maximum": 1000],
            ]]
        case .get, .delete:
            return ["type": "object", "additionalProperties": false, "required": ["id"], "properties": ["id": Self.id]]
        case .create:
            return CollectionContract.input(collection, patch: false, team: collection.owner == .team)
        case .update:
            return ["type": "object", "additionalProperties": false, "required": ["id", "changes"],
                    "properties": ["id": Self.id, "changes": CollectionContract.input(collection, patch: true)]]
        case .aggregate:
            return ["type": "object", "additionalProperties": false, "properties": [
                "op": ["enum": .array(AggregateQuery.Op.allCases.map { .string($0.rawValue) })],
                "field": ["type": "string", "maxLength": 60],
                "group_by": ["type": "array", "maxItems": .int(Int64(AggregateQuery.maxGroupBy)), "items": ["enum": .array(visibleFields)]],
                "where": conditions,
            ]]
        }
    }

    func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        do {
            return ["data": try await run(arguments, caller: try await caller(context.userID))]
        } catch let error as AppError {
            throw ToolError(Self.message(error))
        }
    }

    /// Before a call waits for approval: the record it changes must be one the user sees, or the user would be asked
    /// about nothing.
    func precheck(_ arguments: JSONValue, context: ToolContext) async throws {
        guard [.update, .delete].contains(operation) else { return }
        do {
            let caller = try await caller(context.userID)
            _ = try await store.get(arguments["id"]?.stringValue ?? "", caller: caller)
        } catch let error as AppError {
            throw ToolError(Self.message(error))
        }
    }

    private func run(_ arguments: JSONValue, caller: Caller) async throws -> JSONValue {
        let filterContext = store.filterContext(caller)
        switch operation {
        case .list:
            var parameters: [String: [String]] = ["per_page": [String(arguments["limit"]?.intValue ?? 20)]]
            if let page = arguments["page"]?.intValue { parameters["page"] = [String(page)] }
            if let sort = arguments["sort"]?.stringValue { parameters["sort"] = [sort] }
            var query = try ListQuery(parameters, collection: collection, context: filterContext)
            query.filter = Self.filter(arguments["where"])
            let page = try await store.list(query, caller: caller)
            return ["items": .array(page.items), "total": .int(Int64(page.total)), "page": .int(Int64(page.page))]
        case .get:
            return try await store.get(arguments["id"]?.stringValue ?? "", caller: caller)
        case .create:
            return try await store.create(arguments, caller: caller)
        case .update:
            return try await store.update(arguments["id"]?.stringValue ?? "", arguments["changes"] ?? [:], replace: false, caller: caller)
        case .delete:
            let id = arguments["id"]?.stringValue ?? ""
            try await store.delete(id, caller: caller)
            return ["deleted": .string(id)]
        case .aggregate:
            var parameters: [String: [String]] = [:]
            if let op = arguments["op"]?.stringValue { parameters["op"] = [op] }
            if let field = arguments["field"]?.stringValue { parameters["field"] = [field] }
            if let groups = arguments["group_by"]?.arrayValue?.compactMap(\.stringValue), !groups.isEmpty {
                parameters["group_by"] = [groups.joined(separator: ",")]
            }
            var query = try AggregateQuery(parameters, collection: collection, context: filterContext)
            query.filter = Self.filter(arguments["where"])
            return try await store.aggregate(query, caller: caller)
        }
    }

    /// The turn's user as the collections see them, held to the plan as the REST routes hold them: the collection's
    /// feature, and over the storage quota, no records added or grown.
    private func caller(_ userID: UUID) async throws -> Caller {
        guard let user = try await accounts.user(id: userID) else { throw ToolError("The user no longer exists.") }
        if let feature = collection.feature, !plans.tier(user.tier).includes(feature) {
            throw ToolError("\(collection.name) is not in the user's plan (\(user.tier)).")
        }
        if [.create, .update].contains(operation), collection.owner != .shared { try await quotas.admitStorage(user: user) }
        return try await Caller.of(user, in: store.blueprint, db: database)
    }

    /// Conditions that must all hold; the schema has checked their fields and operators.
    static func filter(_ conditions: JSONValue?) -> FilterExpression? {
        let parts: [FilterExpression] = (conditions?.arrayValue ?? []).compactMap { condition in
            guard let field = condition["field"]?.stringValue, let op = condition["op"]?.stringValue.flatMap(FilterOperator.init) else { return nil }
            return .compare(field: field, op: op, value: .json(condition["value"] ?? .null))
        }
        return parts.isEmpty ? nil : .all(parts)
    }

    /// What the model reads of a refusal: the problem's detail and each field's message.
    static func message(_ error: AppError) -> String {
        let fields = error.fieldErrors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        let detail = error.detail ?? error.title
        return fields.isEmpty ? detail : detail + " (" + fields + ")"
    }
}
