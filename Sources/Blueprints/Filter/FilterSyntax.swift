import Core
import Foundation
import LLM

/// A parsed `?filter=` expression or rule: comparisons of a field with a value, joined by `&&` and `||`.
///
/// The grammar (PocketBase's, smaller): `field op value` (or `value op field`), with op one of `= != > >= < <= ~ !~`,
/// or `field in [v, ...]` and `field !in [...]`; a field is its name or `@record.name`; values are 'text' or "text",
/// numbers, `true`, `false`, `null`, `@now` (optionally `+`/`-` seconds), `@auth.id`, `@auth.role`, `@auth.tier`,
/// `@flag.name` (the app's flag as configured), in rules `@body.name` (the request body's value), and in a
/// collection's `query:` filters `@query` (the list parameter's value); parentheses group. Macros are resolved while
/// parsing, so what reaches SQL is always a bound value, and a comparison of two values (`@auth.role = 'admin'`) is
/// decided there.
public indirect enum FilterExpression: Sendable, Equatable {
    case all([FilterExpression])
    case any([FilterExpression])
    case compare(field: String, op: FilterOperator, value: FilterValue)
    case member(field: String, negated: Bool, values: [FilterValue])
    /// A comparison of values only, decided while parsing.
    case constant(Bool)
}

extension FilterExpression {
    /// Every field the expression compares.
    public var fields: Set<String> {
        switch self {
        case .all(let parts), .any(let parts): parts.reduce(into: Set()) { $0.formUnion($1.fields) }
        case .compare(let field, _, _), .member(let field, _, _): [field]
        case .constant: []
        }
    }
}

public enum FilterOperator: String, Sendable, CaseIterable {
    case equal = "=", notEqual = "!=", greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<="
    case contains = "~", notContains = "!~"

    /// The operator with its operands swapped (`5 < priority` is `priority > 5`); none for `~`.
    var mirrored: FilterOperator? {
        switch self {
        case .equal, .notEqual: self
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        case .contains, .notContains: nil
        }
    }
}

public enum FilterValue: Sendable, Equatable {
    case json(JSONValue)
    /// A moment (`@now`), in milliseconds since 1970.
    case time(Int64)
}

/// What macros stand for in one request.
public struct FilterContext: Sendable {
    public let nowMillis: Int64
    public let auth: [String: JSONValue]
    /// The request body's fields, for `@body.*` in rules; nil where there is no body (filters, reads), and then
    /// `@body` is an error.
    public var body: [String: JSONValue]?
    /// The app's flags as configured, for `@flag.*`.
    public var flags: [String: Bool]
    /// A list query parameter's value, for `@query` in a collection's `query:` filters; nil elsewhere.
    public var query: JSONValue?

    public init(nowMillis: Int64, auth: [String: JSONValue], body: [String: JSONValue]? = nil, flags: [String: Bool] = [:],
                query: JSONValue? = nil) {
        self.nowMillis = nowMillis
        self.auth = auth
        self.body = body
        self.flags = flags
        self.query = query
    }
}

public struct FilterSyntaxError: Error, Sendable, Equatable {
    public let message: String
}

/// Parses filter text. Bounded everywhere: a client's filter is at most `maxLength` characters, `maxTerms`
/// comparisons, `maxDepth` parentheses deep and `maxList` values per list, so no filter can cost much to parse or run.
public struct FilterParser {
    public static let maxLength = 4096
    public static let maxTerms = 64
    public static let maxDepth = 16
    public static let maxList = 100

    private enum Token: Equatable {
        case name(String), macro(String), text(String), number(JSONValue), op(String), open, close, openList, closeList, comma
        case and, or, plus, minus
    }

    private var tokens: [Token] = []
    private var position = 0
    private var terms = 0
    /// Whether the operand just read was a macro without a value (a profile field never set, say).
    private var unknownMacro = false
    private let context: FilterContext

    public static func parse(_ text: String, context: FilterContext) throws(FilterSyntaxError) -> FilterExpression {
        guard text.unicodeScalars.count <= maxLength else { throw FilterSyntaxError(message: "is longer than \(maxLength) characters") }
        var parser = FilterParser(context: context)
        parser.tokens = try tokenize(text)
        guard !parser.tokens.isEmpty else { throw FilterSyntaxError(message: "is empty") }
        let expression = try parser.disjunction(depth: 0)
        guard parser.position == parser.tokens.count else { throw FilterSyntaxError(message: "has unexpected text after a complete expression") }
        return expression
    }

    /// A `?filter=` parameter: a syntax error is a 400 naming `filter`.
    public static func parameter(_ text: String, context: FilterContext) throws(AppError) -> FilterExpression {
        do {
            return try parse(text, context: context)
        } catch {
            throw AppError.validation([FieldError(field: "filter", code: "invalid_filter", message: "the filter \(error.message)")])
        }
    }

    private init(context: FilterContext) {
        self.context = context
    }

    private mutating func disjunction(depth: Int) throws(FilterSyntaxError) -> FilterExpression {
        var parts = [try conjunction(depth: depth)]
        while peek == .or {
            position += 1
            parts.append(try conjunction(depth: depth))
        }
        // Decided comparisons fold away: `@auth.role = 'admin' || ...` is simply true for an administrator.
        if parts.contains(.constant(true)) { return .constant(true) }
        parts.removeAll { $0 == .constant(false) }
        return parts.isEmpty ? .constant(false) : parts.count == 1 ? parts[0] : .any(parts)
    }

    private mutating func conjunction(depth: Int) throws(FilterSyntaxError) -> FilterExpression {
        var parts = [try primary(depth: depth)]
        while peek == .and {
            position += 1
            parts.append(try primary(depth: depth))
        }
        if parts.contains(.constant(false)) { return .constant(false) }
        parts.removeAll { $0 == .constant(true) }
        return parts.isEmpty ? .constant(true) : parts.count == 1 ? parts[0] : .all(parts)
    }

    private mutating func primary(depth: Int) throws(FilterSyntaxError) -> FilterExpression {
        if peek == .open {
            guard depth < Self.maxDepth else { throw FilterSyntaxError(message: "nests parentheses deeper than \(Self.maxDepth)") }
            position += 1
            let inner = try disjunction(depth: depth + 1)
            guard next() == .close else { throw FilterSyntaxError(message: "has a ( without its )") }
            return inner
        }
        terms += 1
        guard terms <= Self.maxTerms else { throw FilterSyntaxError(message: "has more than \(Self.maxTerms) comparisons") }
        unknownMacro = false
        let left = try term()
        switch next() {
        case .name("in"), .op("!in"):
            let negated = tokens[position - 1] == .op("!in")
            let values = try list()
            switch left {
            case .field(let field): return .member(field: field, negated: negated, values: values)
            case .value(let value):
                return .constant(values.contains { FilterMatch.holds(value, .equal, $0) } != negated)
            }
        case .op(let symbol):
            guard let op = FilterOperator(rawValue: symbol) else { throw FilterSyntaxError(message: "has an unknown operator \(symbol)") }
            let right = try term()
            // A caller's value that is not there (a profile field never set, a body field left out) is unknown: an
            // order against it holds for no record, as in SQL, rather than being the caller's mistake.
            if unknownMacro, op != .equal, op != .notEqual { return .constant(false) }
            switch (left, right) {
            case (.field(let field), .value(let value)):
                return .compare(field: field, op: op, value: value)
            case (.value(let value), .field(let field)):
                guard let mirrored = op.mirrored else { throw FilterSyntaxError(message: "needs the field on the left of ~ and !~") }
                return .compare(field: field, op: mirrored, value: value)
            case (.value(let left), .value(let right)):
                return .constant(FilterMatch.holds(left, op, right))
            case (.field, .field):
                throw FilterSyntaxError(message: "compares a field with a value, not with another field")
            }
        default:
            throw FilterSyntaxError(message: "expects an operator (= != > >= < <= ~ !~ in !in) after the first operand")
        }
    }

    private enum Term {
        case field(String)
        case value(FilterValue)
    }

    /// A field (`name`, `@record.name`) or a value.
    private mutating func term() throws(FilterSyntaxError) -> Term {
        switch peek {
        case .name(let name) where !["true", "false", "null"].contains(name):
            position += 1
            return .field(name.hasPrefix("record.") ? String(name.dropFirst("record.".count)) : name)
        case .macro(let name) where name.hasPrefix("record."):
            position += 1
            return .field(String(name.dropFirst("record.".count)))
        default:
            return .value(try value())
        }
    }

    private mutating func list() throws(FilterSyntaxError) -> [FilterValue] {
        guard next() == .openList else { throw FilterSyntaxError(message: "expects a list in [ ] after in") }
        var values: [FilterValue] = []
        if peek == .closeList {
            position += 1
            return values
        }
        while true {
            values.append(try value())
            guard values.count <= Self.maxList else { throw FilterSyntaxError(message: "has a list longer than \(Self.maxList)") }
            switch next() {
            case .comma: continue
            case .closeList: return values
            default: throw FilterSyntaxError(message: "expects , or ] in a list")
            }
        }
    }

    /// A literal or macro, then any `+`/`-` of numbers (seconds, for a time).
    private mutating func value() throws(FilterSyntaxError) -> FilterValue {
        var value: FilterValue
        switch next() {
        case .text(let text): value = .json(.string(text))
        case .number(let number): value = .json(number)
        case .name("true"): value = .json(.bool(true))
        case .name("false"): value = .json(.bool(false))
        case .name("null"): value = .json(.null)
        case .macro("now"): value = .time(context.nowMillis)
        case .macro(let name) where name.hasPrefix("auth."):
            let key = String(name.dropFirst("auth.".count))
            guard let known = context.auth[key] else { throw FilterSyntaxError(message: "has an unknown value @\(name)") }
            if known == .null { unknownMacro = true }
            value = .json(known)
        case .macro(let name) where name.hasPrefix("body."):
            guard let body = context.body else { throw FilterSyntaxError(message: "uses @body where there is no body") }
            let given = body[String(name.dropFirst("body.".count))] ?? .null
            if given == .null { unknownMacro = true }
            value = .json(given)
        case .macro(let name) where name.hasPrefix("flag."):
            guard let flag = context.flags[String(name.dropFirst("flag.".count))] else {
                throw FilterSyntaxError(message: "has an unknown flag @\(name) (flags are declared under flags:)")
            }
            value = .json(.bool(flag))
        case .macro("query"):
            guard let query = context.query else { throw FilterSyntaxError(message: "uses @query outside a collection's query: filters") }
            value = .json(query)
        case .macro(let name): throw FilterSyntaxError(message: "has an unknown value @\(name)")
        default: throw FilterSyntaxError(message: "expects a value: 'text', a number, true, false, null or @now")
        }
        while peek == .plus || peek == .minus {
            let sign: Int64 = next() == .plus ? 1 : -1
            guard case .number(let amount) = next(), let step = amount.intValue.map(Int64.init) else {
                throw FilterSyntaxError(message: "adds or subtracts whole numbers only")
            }
            switch value {
            case .time(let millis):
                let (scaled, overflow) = step.multipliedReportingOverflow(by: 1000 * sign)
                let (sum, overflow2) = millis.addingReportingOverflow(scaled)
                guard !overflow, !overflow2 else { throw FilterSyntaxError(message: "has a time out of range") }
                value = .time(sum)
            case .json(.int(let base)):
                let (sum, overflow) = base.addingReportingOverflow(sign * step)
                guard !overflow else { throw FilterSyntaxError(message: "has a number out of range") }
                value = .json(.int(sum))
            default:
                throw FilterSyntaxError(message: "adds or subtracts only to @now or a whole number")
            }
        }
        return value
    }

    private var peek: Token? { position < tokens.count ? tokens[position] : nil }

    private mutating func next() -> Token? {
        defer { position += 1 }
        return peek
    }

    private static func tokenize(_ text: String) throws(FilterSyntaxError) -> [Token] {
        var tokens: [Token] = []
        let scalars = Array(text.unicodeScalars)
        var index = 0
        func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "."
        }
        while index < scalars.count {
            let scalar = scalars[index]
            let following = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch scalar {
            case " ", "\t", "\n", "\r":
                index += 1
            case "(": tokens.append(.open); index += 1
            case ")": tokens.append(.close); index += 1
            case "[": tokens.append(.openList); index += 1
            case "]": tokens.append(.closeList); index += 1
            case ",": tokens.append(.comma); index += 1
            case "+": tokens.append(.plus); index += 1
            case "&" where following == "&": tokens.append(.and); index += 2
            case "|" where following == "|": tokens.append(.or); index += 2
            case "=": tokens.append(.op("=")); index += 1
            case "~": tokens.append(.op("~")); index += 1
            case ">", "<":
                tokens.append(.op(following == "=" ? String(scalar) + "=" : String(scalar)))
                index += following == "=" ? 2 : 1
            case "!":
                if following == "=" { tokens.append(.op("!=")); index += 2 }
                else if following == "~" { tokens.append(.op("!~")); index += 2 }
                else if following == "i", index + 2 < scalars.count, scalars[index + 2] == "n" { tokens.append(.op("!in")); index += 3 }
                else { throw FilterSyntaxError(message: "has a ! that is not != !~ or !in") }
            case "'", "\"":
                var text = String.UnicodeScalarView()
                index += 1
                var closed = false
                while index < scalars.count {
                    if scalars[index] == "\\", index + 1 < scalars.count {
                        text.append(scalars[index + 1])
                        index += 2
                    } else if scalars[index] == scalar {
                        closed = true
                        index += 1
                        break
                    } else {
                        text.append(scalars[index])
                        index += 1
                    }
                }
                guard closed else { throw FilterSyntaxError(message: "has text without its closing quote") }
                tokens.append(.text(String(text)))
            case "-", "0"..."9":
                if scalar == "-", !(following.map { ("0"..."9").contains($0) } ?? false) || Self.endsValue(tokens.last) {
                    tokens.append(.minus)
                    index += 1
                    continue
                }
                var end = index + 1
                while end < scalars.count, ("0"..."9").contains(scalars[end]) || scalars[end] == "." || scalars[end] == "e"
                        || scalars[end] == "E" || ((scalars[end] == "+" || scalars[end] == "-") && (scalars[end - 1] == "e" || scalars[end - 1] == "E")) {
                    end += 1
                }
                let literal = String(String.UnicodeScalarView(scalars[index..<end]))
                if let whole = Int64(literal) { tokens.append(.number(.int(whole))) }
                else if let number = Double(literal), number.isFinite { tokens.append(.number(.double(number))) }
                else { throw FilterSyntaxError(message: "has a number it cannot read: \(literal)") }
                index = end
            case "@":
                var end = index + 1
                while end < scalars.count, isNameScalar(scalars[end]) { end += 1 }
                tokens.append(.macro(String(String.UnicodeScalarView(scalars[(index + 1)..<end]))))
                index = end
            default:
                guard isNameScalar(scalar) else { throw FilterSyntaxError(message: "has a character it does not understand: \(scalar)") }
                var end = index + 1
                while end < scalars.count, isNameScalar(scalars[end]) { end += 1 }
                tokens.append(.name(String(String.UnicodeScalarView(scalars[index..<end]))))
                index = end
            }
        }
        return tokens
    }

    /// After a value, `-` is subtraction (`@now - 60`); elsewhere it starts a negative number.
    private static func endsValue(_ token: Token?) -> Bool {
        switch token {
        case .number, .text, .macro, .close, .closeList: true
        case .name(let name): ["true", "false", "null"].contains(name)
        default: false
        }
    }
}
