import Foundation
import LLM

/// Checks a JSON value against a JSON Schema: the subset that tool parameters (and later collection schemas) use.
///
/// Supported: `type` (one or a list), `properties`, `required`, `additionalProperties` (true, false or a schema),
/// `items`, `enum`, `const`, `minLength`/`maxLength`, `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum`,
/// `minItems`/`maxItems`, `anyOf`/`oneOf`/`allOf`, `pattern` and `format` (`date`, `date-time`, `email`, `uuid`,
/// `uri`). Other keywords (`description`, `default`...) are ignored.
public enum JSONSchema {
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        /// Where, as a dotted path from the root (`filters.0.field`); empty for the root.
        public let path: String
        /// Stable, for clients: `invalid_type`, `not_allowed`, `required`, `unknown_field`, `too_short`, `too_long`,
        /// `out_of_range`, `too_few_items`, `too_many_items`, `invalid_format`, `pattern_mismatch`, `no_match`.
        public let code: String
        public let message: String
        public var description: String { path.isEmpty ? message : "\(path): \(message)" }
    }

    public static func validate(_ value: JSONValue, against schema: JSONValue) -> [Violation] {
        var violations: [Violation] = []
        check(value, schema, path: [], into: &violations)
        return violations
    }

    private static func check(_ value: JSONValue, _ schema: JSONValue, path: [String], into violations: inout [Violation]) {
        guard case .object(let rules) = schema else { return } // `true` or `{}` accept anything
        func fail(_ code: String, _ message: String, at extra: [String] = []) {
            violations.append(Violation(path: (path + extra).joined(separator: "."), code: code, message: message))
        }
        if let type = rules["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue].compactMap { $0 }
            guard allowed.isEmpty || allowed.contains(where: { matches(value, type: $0) }) else {
                fail("invalid_type", "must be \(allowed.map(article).joined(separator: " or ")), not \(article(typeName(value)))")
                return
            }
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(where: { equal($0, value) }) {
            fail("not_allowed", "must be one of \(options.map(\.jsonString).joined(separator: ", "))")
        }
        if let constant = rules["const"], !equal(constant, value) { fail("not_allowed", "must be \(constant.jsonString)") }
        for (keyword, combine) in [("allOf", 0), ("anyOf", 1), ("oneOf", 2)] {
            guard let schemas = rules[keyword]?.arrayValue, !schemas.isEmpty else { continue }
            let passing = schemas.filter { validate(value, against: $0).isEmpty }.count
            switch combine {
            case 0 where passing < schemas.count:
                for sub in schemas { check(value, sub, path: path, into: &violations) }
            case 1 where passing == 0: fail("no_match", "matches none of the allowed forms")
            case 2 where passing != 1: fail("no_match", passing == 0 ? "matches none of the allowed forms" : "matches more than one allowed form")
            default: break
            }
        }
        switch value {
        case .string(let string):
            // Code points, as JSON Schema counts them (not characters: combining marks would hide length).
            let length = string.unicodeScalars.count
            if let min = rules["minLength"]?.intValue, length < min { fail("too_short", "must be at least \(min) characters long") }
            if let max = rules["maxLength"]?.intValue, length > max { fail("too_long", "must be at most \(max) characters long") }
            if let name = rules["format"]?.stringValue, let format = StringFormat(rawValue: name), !format.accepts(string) {
                fail("invalid_format", "must be \(format.described)")
            }
            if let pattern = rules["pattern"]?.stringValue, !Patterns.matches(string, pattern) {
                fail("pattern_mismatch", "must match the pattern \(pattern)")
            }
        case .int, .double:
            let number = value.doubleValue ?? 0
            if let min = rules["minimum"]?.doubleValue, number < min { fail("out_of_range", "must be at least \(format(min))") }
            if let max = rules["maximum"]?.doubleValue, number > max { fail("out_of_range", "must be at most \(format(max))") }
            if let min = rules["exclusiveMinimum"]?.doubleValue, number <= min { fail("out_of_range", "must be greater than \(format(min))") }
            if let max = rules["exclusiveMaximum"]?.doubleValue, number >= max { fail("out_of_range", "must be less than \(format(max))") }
        case .array(let items):
            if let min = rules["minItems"]?.intValue, items.count < min { fail("too_few_items", "must have at least \(min) items") }
            if let max = rules["maxItems"]?.intValue, items.count > max { fail("too_many_items", "must have at most \(max) items") }
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() { check(item, itemSchema, path: path + [String(index)], into: &violations) }
            }
        case .object(let object):
            let properties = rules["properties"]?.objectValue ?? [:]
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                fail("required", "is required", at: [name])
            }
            for key in object.keys.sorted() {
                let member = object[key]!
                if let propertySchema = properties[key] {
                    check(member, propertySchema, path: path + [key], into: &violations)
                } else if let additional = rules["additionalProperties"] {
                    if additional == .bool(false) { fail("unknown_field", "is not an accepted field", at: [key]) }
                    else { check(member, additional, path: path + [key], into: &violations) }
                }
            }
        default:
            break
        }
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): true
        case ("number", .int), ("number", .double): true
        case ("integer", .int): true
        case ("integer", .double(let number)): number == number.rounded() && number.isFinite
        default: false
        }
    }

    private static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private static func article(_ type: String) -> String {
        switch type {
        case "null": "null"
        case "integer", "array", "object": "an \(type)"
        default: "a \(type)"
        }
    }

    /// Numbers compare by value (`1` equals `1.0`).
    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    private static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}
