import Core
import Foundation
import LLM
import SQLKit
import Storage

/// How a field's JSON value becomes a column value and back, the same on both engines: text as text (date-times
/// normalized to UTC milliseconds so text order is time order), whole numbers as BIGINT, numbers as doubles,
/// booleans as the engine's boolean, everything else as JSON text.
enum ColumnCodec {
    /// The value to bind for an already validated field value.
    static func bind(_ value: JSONValue, as field: Field) -> any Encodable & Sendable {
        switch (field.kind, value) {
        // A null of the column's own type: PostgreSQL refuses a text-typed null in a BIGINT column.
        case (.integer, .null): return Int64?.none
        case (.number, .null): return Double?.none
        case (.boolean, .null): return Bool?.none
        case (_, .null): return String?.none
        case (.text, .string(let text)): return field.isDateTime ? normalizedDateTime(text) ?? text : text
        case (.integer, _): return Int64(exactly: value.doubleValue ?? 0) ?? 0
        case (.number, _): return value.doubleValue ?? 0
        case (.boolean, .bool(let flag)): return flag
        default: return value.jsonString
        }
    }

    /// A validated value as the database will hand it back: date-times normalized, whole numbers as integers,
    /// numbers as doubles. Lets a write answer with its record without reading it again.
    static func stored(_ value: JSONValue, as field: Field) -> JSONValue {
        switch (field.kind, value) {
        case (_, .null): .null
        case (.text, .string(let text)) where field.isDateTime: .string(normalizedDateTime(text) ?? text)
        case (.integer, _): value.doubleValue.flatMap { Int64(exactly: $0) }.map(JSONValue.int) ?? value
        case (.number, _): value.doubleValue.map(JSONValue.double) ?? value
        default: value
        }
    }

    /// A date-time as stored and returned: `YYYY-MM-DDTHH:MM:SS.sssZ`.
    static func normalizedDateTime(_ text: String) -> String? {
        RFC3339.millis(text).map(RFC3339.format(millis:))
    }

    static func decode(_ row: any SQLRow, _ field: Field, column: String? = nil) throws -> JSONValue {
        let column = column ?? field.name
        if try row.decodeNil(column: column) { return .null }
        switch field.kind {
        case .text: return .string(try row.decode(column: column, as: String.self))
        case .integer: return .int(try row.decode(column: column, as: Int64.self))
        case .number: return .double(try row.decode(column: column, as: Double.self))
        case .boolean: return .bool(try row.decode(column: column, as: Bool.self))
        case .json:
            let text = try row.decode(column: column, as: String.self)
            return JSONValue.parse(text) ?? .null
        }
    }

    /// Every field's value in a row, hidden ones included.
    static func decode(_ row: any SQLRow, _ fields: [Field]) throws -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for field in fields { values[field.name] = try decode(row, field) }
        return values
    }

    /// The column type on each engine. Text compares byte by byte on both (`COLLATE "C"` on PostgreSQL), so sorting
    /// and ranges give the same answers wherever the data lives.
    static func sqlType(_ kind: Field.Kind, engine: Engine) -> String {
        switch (kind, engine) {
        case (.text, .postgres): "TEXT COLLATE \"C\""
        case (.text, .sqlite), (.json, _): "TEXT"
        case (.integer, _): "BIGINT"
        case (.number, .postgres): "DOUBLE PRECISION"
        case (.number, .sqlite): "REAL"
        case (.boolean, .postgres): "BOOLEAN"
        case (.boolean, .sqlite): "INTEGER"
        }
    }
}
