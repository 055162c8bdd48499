import Core
import LLM

/// Evaluates a filter against a record as the API returns it, with exactly the meaning `FilterSQL` gives it in the
/// database (null handling, byte-wise text order, "contains" on bytes). Used where rows are not in SQL (events about
/// one record) and, in tests, as the reference both engines must agree with.
public struct FilterMatch: Sendable {
    let collection: CollectionSpec

    public init(collection: CollectionSpec) {
        self.collection = collection
    }

    /// Whether `record` matches; the filter must already have passed `FilterSQL` (unknown fields are not checked here).
    public func matches(_ expression: FilterExpression, _ record: JSONValue) -> Bool {
        switch expression {
        case .all(let parts): return parts.allSatisfy { matches($0, record) }
        case .any(let parts): return parts.contains { matches($0, record) }
        case .compare(let name, let op, let value):
            return Self.compare(key(name, record), op, operand(name, value))
        case .member(let name, let negated, let values):
            let have = key(name, record)
            let found = values.contains { value in
                let wanted = operand(name, value)
                return wanted == nil ? have == nil : (have != nil && Self.order(have!, wanted!) == 0)
            }
            return negated ? !found : found
        case .constant(let holds):
            return holds
        }
    }

    /// A comparison of two values (`@auth.role = 'admin'`), with the meaning comparisons of fields have.
    static func holds(_ left: FilterValue, _ op: FilterOperator, _ right: FilterValue) -> Bool {
        func key(_ value: FilterValue) -> Key? {
            switch value {
            case .time(let millis): .number(Double(millis))
            case .json(.null): nil
            case .json(let json): plain(json, field: nil)
            }
        }
        return compare(key(left), op, key(right))
    }

    /// A comparable form of a value: numbers as doubles, times as milliseconds, text as its bytes.
    private enum Key {
        case number(Double)
        case text([UInt8])
        case flag(Bool)
        case other(String)
    }

    private func key(_ name: String, _ record: JSONValue) -> Key? {
        guard let value = record[name], value != .null else { return nil }
        if SystemField(rawValue: name) == .createdAt || SystemField(rawValue: name) == .updatedAt {
            return value.stringValue.flatMap(RFC3339.millis).map { .number(Double($0)) }
        }
        return Self.plain(value, field: collection.field(name))
    }

    private func operand(_ name: String, _ value: FilterValue) -> Key? {
        let system = SystemField(rawValue: name)
        switch value {
        case .time(let millis):
            if system == .createdAt || system == .updatedAt { return .number(Double(millis)) }
            return .text(Array(RFC3339.format(millis: millis).utf8))
        case .json(.null):
            return nil
        case .json(.string(let text)) where system == .createdAt || system == .updatedAt:
            return RFC3339.millis(text).map { .number(Double($0)) }
        case .json(.string(let text)) where system == .id:
            return .text(Array(text.lowercased().utf8))
        case .json(let json):
            return Self.plain(json, field: collection.field(name))
        }
    }

    private static func plain(_ value: JSONValue, field: Field?) -> Key {
        switch value {
        case .int, .double: return .number(value.doubleValue ?? 0)
        case .bool(let flag): return .flag(flag)
        case .string(let text):
            if field?.isDateTime == true, let normalized = ColumnCodec.normalizedDateTime(text) { return .text(Array(normalized.utf8)) }
            return .text(Array(text.utf8))
        default: return .other(value.jsonString)
        }
    }

    private static func compare(_ have: Key?, _ op: FilterOperator, _ wanted: Key?) -> Bool {
        guard let wanted else { return op == .equal ? have == nil : have != nil }
        guard let have else { return op == .notEqual || op == .notContains }
        switch op {
        case .equal: return order(have, wanted) == 0
        case .notEqual: return order(have, wanted) != 0
        case .greater: return order(have, wanted) > 0
        case .greaterOrEqual: return order(have, wanted) >= 0
        case .less: return order(have, wanted) < 0
        case .lessOrEqual: return order(have, wanted) <= 0
        case .contains, .notContains:
            guard case .text(let haystack) = have, case .text(let needle) = wanted else { return op == .notContains }
            return contains(haystack, needle) == (op == .contains)
        }
    }

    /// -1, 0 or 1; values of different kinds (which `FilterSQL` refuses) count as different.
    private static func order(_ a: Key, _ b: Key) -> Int {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.text(let x), .text(let y)): return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
        case (.flag(let x), .flag(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.other(let x), .other(let y)): return x == y ? 0 : 1
        default: return 2
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
}
