import Core
import LLM
import SQLKit
import Storage

/// Compiles a filter into a SQL condition over one collection's table: column names come from the schema (a field
/// that is not there is an error naming it), values are always bound parameters, and every operator means the same
/// on SQLite and PostgreSQL.
///
/// Meanings a user may not guess: `!=`, `!~` and `!in` hold for a null field (they negate `=`, `~`, `in`); `<`, `>`
/// and `~` never hold for null; `~` is "contains", case-sensitive (`?q=` is the case-insensitive search).
struct FilterSQL {
    let collection: CollectionSpec
    let engine: Engine
    /// Fields with a read rule, and that rule for this caller: a comparison on such a field holds only where the
    /// caller may read it, so a filter cannot find out what it may not see.
    var readRules: [String: FilterExpression] = [:]

    /// What a filter can name: a field, or one of the columns every record has.
    enum Operand {
        case field(Field)
        /// `created_at`, `updated_at`: milliseconds in the database, RFC 3339 text in filters and responses.
        case time(String)
        /// `id`, `owner_id`, `team_id`.
        case key(String)

        var column: String {
            switch self {
            case .field(let field): field.name
            case .time(let name), .key(let name): name
            }
        }
    }

    func operand(_ name: String) throws(AppError) -> Operand {
        if let field = collection.field(name), !field.hidden { return .field(field) }
        switch SystemField(rawValue: name) {
        case .createdAt, .updatedAt: return .time(name)
        case .id: return .key(name)
        case .ownerID where collection.owner != .shared, .teamID where collection.owner == .team: return .key(name)
        default: throw Self.invalid("filter", "\(name) is not a field of \(collection.name)")
        }
    }

    func condition(_ expression: FilterExpression) throws(AppError) -> SQLQueryString {
        switch expression {
        case .all(let parts): return try group(parts, " AND ")
        case .any(let parts): return try group(parts, " OR ")
        case .constant(let holds): return holds ? "1 = 1" : "1 = 0"
        case .compare(let name, let op, let value): return try guarded(name, try compare(try operand(name), op, value))
        case .member(let name, let negated, let values):
            return try guarded(name, try member(name, negated, values))
        }
    }

    /// A comparison on a field with a read rule, limited to the records whose field the caller may read.
    private func guarded(_ name: String, _ comparison: SQLQueryString) throws(AppError) -> SQLQueryString {
        guard let rule = readRules[name], rule != .constant(true) else { return comparison }
        let unguarded = FilterSQL(collection: collection, engine: engine)
        return "(" + (try unguarded.condition(rule)) + " AND " + comparison + ")"
    }

    private func member(_ name: String, _ negated: Bool, _ values: [FilterValue]) throws(AppError) -> SQLQueryString {
        let operand = try operand(name)
        let nonNull = values.filter { $0 != .json(.null) }
        var parts: [SQLQueryString] = []
        if !nonNull.isEmpty {
            let binds = try nonNull.map { value throws(AppError) in try bindable(operand, value, op: .equal) }
            parts.append("\(ident: operand.column) IN (\(binds: binds))")
        }
        if nonNull.count != values.count { parts.append("\(ident: operand.column) IS NULL") }
        let inside: SQLQueryString = parts.isEmpty ? "1 = 0" : "(" + parts.joined(separator: " OR ") + ")"
        return negated ? "NOT COALESCE(" + inside + ", FALSE)" : inside
    }

    private func group(_ parts: [FilterExpression], _ separator: String) throws(AppError) -> SQLQueryString {
        var compiled: [SQLQueryString] = []
        for part in parts { compiled.append(try condition(part)) }
        return "(" + compiled.joined(separator: separator) + ")"
    }

    private func compare(_ operand: Operand, _ op: FilterOperator, _ value: FilterValue) throws(AppError) -> SQLQueryString {
        let column = operand.column
        if value == .json(.null) {
            switch op {
            case .equal: return "\(ident: column) IS NULL"
            case .notEqual: return "\(ident: column) IS NOT NULL"
            default: throw Self.invalid("filter", "\(column) can only be compared with null by = or !=")
            }
        }
        switch op {
        case .contains, .notContains:
            guard case .field(let field) = operand, field.kind == .text, case .json(.string(let text)) = value else {
                throw Self.invalid("filter", "~ and !~ compare text fields with text")
            }
            let position: SQLQueryString = engine == .postgres
                ? "strpos(\(ident: column), \(bind: text))" : "instr(\(ident: column), \(bind: text))"
            return op == .contains ? position + " > 0" : "(\(ident: column) IS NULL OR " + position + " = 0)"
        case .notEqual:
            return "(\(ident: column) IS NULL OR \(ident: column) <> \(bind: try bindable(operand, value, op: op)))"
        default:
            if case .field(let field) = operand, field.kind == .boolean || field.kind == .json, op != .equal {
                throw Self.invalid("filter", "\(column) can only be compared by = or !=")
            }
            return "\(ident: column) \(unsafeRaw: op.rawValue) \(bind: try bindable(operand, value, op: op))"
        }
    }

    /// The value converted to what the column holds, or a 400 saying why it cannot be compared.
    private func bindable(_ operand: Operand, _ value: FilterValue, op: FilterOperator) throws(AppError) -> any Encodable & Sendable {
        switch (operand, value) {
        case (.time, .time(let millis)):
            return millis
        case (.time(let name), .json(.string(let text))):
            guard let millis = RFC3339.millis(text) else { throw Self.invalid("filter", "\(name) compares with an RFC 3339 time or @now") }
            return millis
        case (.key(let name), .json(.string(let text))):
            return name == SystemField.id.rawValue ? text.lowercased() : text
        case (.field(let field), .time(let millis)) where field.isDateTime:
            return RFC3339.format(millis: millis)
        case (.field(let field), .json(let json)):
            switch (field.kind, json) {
            case (.text, .string(let text)):
                if field.isDateTime {
                    guard let normalized = ColumnCodec.normalizedDateTime(text) else {
                        throw Self.invalid("filter", "\(field.name) compares with an RFC 3339 time or @now")
                    }
                    return normalized
                }
                // A date field orders as its text does, so only a date makes sense to compare it with.
                if field.schema["format"]?.stringValue == StringFormat.date.rawValue, !StringFormat.date.accepts(text) {
                    throw Self.invalid("filter", "\(field.name) compares with a date, YYYY-MM-DD")
                }
                return text
            case (.integer, .int), (.integer, .double), (.number, .int), (.number, .double):
                return json.doubleValue.flatMap { Int64(exactly: $0) } ?? json.doubleValue ?? 0
            case (.boolean, .bool(let flag)):
                return flag
            case (.json, _):
                throw Self.invalid("filter", "\(field.name) holds JSON: compare it with null only")
            default:
                throw Self.invalid("filter", "\(field.name) cannot be compared with \(json.jsonString)")
            }
        default:
            throw Self.invalid("filter", "\(operand.column) cannot be compared with that value")
        }
    }

    static func invalid(_ parameter: String, _ message: String) -> AppError {
        AppError.validation([FieldError(field: parameter, code: "invalid_\(parameter)", message: message)])
    }
}
