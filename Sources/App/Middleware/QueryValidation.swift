import Core
import Foundation
import HTTPTypes

/// Checks the query parameters of every operation against the contract before the generated code decodes them (in
/// `OperationChecksMiddleware`): integers are integers within `minimum...maximum`, strings within `maxLength` and
/// their `enum`, and nothing is given twice. The generated server checks none of these bounds itself, and its own
/// decoding failures do not say which parameter was wrong; here each one is a 400 naming the parameter.
struct QueryValidation: Sendable {
    /// What the contract says of one query parameter.
    struct Rule: Sendable {
        enum Kind: Sendable {
            case integer(minimum: Int?, maximum: Int?)
            case string(maxLength: Int?, allowed: Set<String>?)
        }

        let name: String
        let kind: Kind
    }

    /// Rules by operation id.
    let rules: [String: [Rule]]

    /// Throws a 400 naming each parameter that breaks its rule.
    func check(_ request: HTTPRequest, operationID: String) throws {
        if let rules = rules[operationID], let path = request.path, let mark = path.firstIndex(of: "?") {
            let errors = Self.check(query: path[path.index(after: mark)...], rules: rules)
            if !errors.isEmpty { throw AppError.validation(errors) }
        }
    }

    static func check(query: Substring, rules: [Rule]) -> [FieldError] {
        var seen: Set<String> = []
        var errors: [FieldError] = []
        for (name, value) in QueryString.parameters(query) {
            guard let rule = rules.first(where: { $0.name == name }) else { continue }
            guard seen.insert(name).inserted else {
                errors.append(FieldError(field: name, code: "duplicate", message: "must be given once"))
                continue
            }
            guard let value else {
                errors.append(FieldError(field: name, code: "invalid_value", message: "is not percent-encoded correctly"))
                continue
            }
            if let error = check(value, against: rule) { errors.append(error) }
        }
        return errors
    }

    static func check(_ value: String, against rule: Rule) -> FieldError? {
        switch rule.kind {
        case .integer(let minimum, let maximum):
            // Int(_:) refuses what does not fit in 64 bits, so no arithmetic below can overflow.
            guard let number = Int(value) else {
                return FieldError(field: rule.name, code: "invalid_type", message: "must be an integer")
            }
            if let minimum, number < minimum {
                return FieldError(field: rule.name, code: "out_of_range", message: "must be at least \(minimum)")
            }
            if let maximum, number > maximum {
                return FieldError(field: rule.name, code: "out_of_range", message: "must be at most \(maximum)")
            }
        case .string(let maxLength, let allowed):
            // Code points, as JSON Schema counts (combining marks make a long text look short in characters).
            if let maxLength, value.unicodeScalars.count > maxLength {
                return FieldError(field: rule.name, code: "too_long", message: "must be at most \(maxLength) characters")
            }
            if let allowed, !allowed.contains(value) {
                return FieldError(field: rule.name, code: "invalid_value", message: "must be one of \(allowed.sorted().joined(separator: ", "))")
            }
        }
        return nil
    }
}

extension OpenAPIDocument {
    /// The query parameters of every operation, as `QueryValidation` checks them.
    var queryRules: [String: [QueryValidation.Rule]] {
        func int(_ value: Any?) -> Int? { (value as? Int) ?? (value as? Double).flatMap { Int(exactly: $0) } }
        var rules: [String: [QueryValidation.Rule]] = [:]
        for operation in operations {
            guard let id = operation.id else { continue }
            for parameter in operation.parameters where parameter["in"] as? String == "query" {
                guard let name = parameter["name"] as? String, let schema = parameter["schema"] as? [String: Any] else { continue }
                let kind: QueryValidation.Rule.Kind = schema["type"] as? String == "integer"
                    ? .integer(minimum: int(schema["minimum"]), maximum: int(schema["maximum"]))
                    : .string(maxLength: int(schema["maxLength"]), allowed: (schema["enum"] as? [Any]).map { Set($0.compactMap { $0 as? String }) })
                rules[id, default: []].append(.init(name: name, kind: kind))
            }
        }
        return rules
    }
}
