import Core
import LLM
import SQLKit
import Storage

/// `GET {path}/aggregate?op=sum&field=weight_kg&group_by=muscle_group&filter=...`: one aggregate over the records
/// the caller may see, per group. Sums and averages are numbers (doubles on both engines, whole when they are
/// whole), so a sum of large integers cannot overflow; min and max keep the field's type.
public struct AggregateQuery: Sendable {
    public enum Op: String, Sendable, CaseIterable { case count, sum, avg, min, max }

    public static let maxGroupBy = 3
    public static let maxGroups = 1000

    public let op: Op
    public let field: String?
    public let groupBy: [String]
    public var filter: FilterExpression?

    public init(_ query: [String: [String]], collection: CollectionSpec, context: FilterContext) throws(AppError) {
        var parameters = QueryParameters(query, allowed: ["op", "field", "group_by", "filter"])
        let op = parameters.single("op").map { Op(rawValue: $0) } ?? .count
        if op == nil {
            parameters.errors.append(FieldError(field: "op", code: "not_allowed", message: "must be one of \(Op.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self.op = op ?? .count
        field = parameters.single("field")
        if let field {
            let kind = collection.field(field).flatMap { $0.hidden ? nil : $0.kind }
            let numeric = kind == .integer || kind == .number
            let ordered = numeric || kind == .text
            if kind == nil || kind == .json || ((op == .sum || op == .avg) && !numeric) || ((op == .min || op == .max) && !ordered) {
                parameters.errors.append(FieldError(field: "field", code: "invalid_field", message: "\(field) cannot be aggregated by \(op?.rawValue ?? "that")"))
            }
        } else if op != .count {
            parameters.errors.append(FieldError(field: "field", code: "required", message: "names the field to aggregate"))
        }
        groupBy = parameters.single("group_by").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        if groupBy.count > Self.maxGroupBy || Set(groupBy).count != groupBy.count {
            parameters.errors.append(FieldError(field: "group_by", code: "invalid_group_by", message: "names 1 to \(Self.maxGroupBy) different fields"))
        }
        for name in groupBy where collection.field(name).map({ $0.hidden || $0.kind == .json }) ?? true {
            parameters.errors.append(FieldError(field: "group_by", code: "invalid_group_by", message: "cannot group by \(name)"))
        }
        filter = parameters.filter(context)
        try parameters.finish()
    }
}

extension CollectionStore {
    /// `{op, field, groups: [{group: {field: value}, value}]}`, groups in the order of their values.
    public func aggregate(_ query: AggregateQuery, caller: Caller) async throws -> JSONValue {
        let access = access(caller)
        for name in [query.field].compactMap({ $0 }) + query.groupBy where !access.readsEverywhere(name) {
            throw FilterSQL.invalid(name == query.field ? "field" : "group_by", "cannot aggregate \(name): some records do not show it to you")
        }
        var condition = try access.scope(.list)
        if let filter = query.filter { condition = condition + " AND " + (try access.sql.condition(filter)) }
        let target: SQLQueryString = query.field.map { "\(ident: $0)" } ?? "*"
        let postgres = db.engine == .postgres
        let measure: SQLQueryString = switch query.op {
        case .count: "COUNT(" + target + ")"
        case .sum: postgres ? "CAST(SUM(" + target + ") AS DOUBLE PRECISION)" : "TOTAL(" + target + ")"
        case .avg: postgres ? "CAST(AVG(" + target + ") AS DOUBLE PRECISION)" : "AVG(" + target + ")"
        case .min: "MIN(" + target + ")"
        case .max: "MAX(" + target + ")"
        }
        let groups = query.groupBy.compactMap(collection.field)
        var select: SQLQueryString = measure + " AS aggregate_value"
        for (index, group) in groups.enumerated() { select = select + ", \(ident: group.name) AS \(ident: "group_\(index)")" }
        var statement: SQLQueryString = "SELECT " + select + " FROM \(ident: table) WHERE " + condition
        if !groups.isEmpty {
            let names = groups.map(\.name)
            statement = statement + " GROUP BY \(idents: names, joinedBy: ", ") ORDER BY "
                + SQLQueryString(names.map { "\"\($0)\" ASC NULLS LAST" }.joined(separator: ", "))
        }
        statement = statement + " LIMIT \(bind: AggregateQuery.maxGroups)"
        let rows = try await db.all(statement)
        let valueField = query.field.flatMap(collection.field)
        let items: [JSONValue] = try rows.map { row in
            var key: [String: JSONValue] = [:]
            for (index, group) in groups.enumerated() {
                key[group.name] = try ColumnCodec.decode(row, group, column: "group_\(index)")
            }
            let value: JSONValue
            if try row.decodeNil(column: "aggregate_value") {
                value = query.op == .sum ? .int(0) : .null
            } else {
                switch query.op {
                case .count: value = .int(try row.decode(column: "aggregate_value", as: Int64.self))
                case .sum, .avg: value = Self.number(try row.decode(column: "aggregate_value", as: Double.self))
                case .min, .max: value = try ColumnCodec.decode(row, valueField!, column: "aggregate_value")
                }
            }
            return .object(["group": .object(key), "value": value])
        }
        return .object(["op": .string(query.op.rawValue), "field": query.field.map(JSONValue.string) ?? .null, "groups": .array(items)])
    }

    /// Whole numbers up to 2^53 as integers, others as they are.
    static func number(_ value: Double) -> JSONValue {
        if value == value.rounded(), abs(value) <= 9_007_199_254_740_992, let whole = Int64(exactly: value) { return .int(whole) }
        return .double(value)
    }
}
