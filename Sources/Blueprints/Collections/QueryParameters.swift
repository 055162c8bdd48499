import Core
import LLM

/// A request's query parameters as a collection route reads them: only the route's own, each at most once and
/// within its length (the lengths the served contract declares), every problem a field error naming the parameter.
struct QueryParameters {
    static let maxLengths = ["filter": FilterParser.maxLength, "sort": 300, "fields": 2000, "expand": 2000, "q": 200,
                             "group_by": 200, "field": 60, "op": 10, "page": 20, "per_page": 20]

    let values: [String: [String]]
    var errors: [FieldError] = []

    init(_ values: [String: [String]], allowed: Set<String>) {
        self.values = values
        for name in values.keys.sorted() where !allowed.contains(name) {
            errors.append(FieldError(field: name, code: "unknown_parameter", message: "is not a parameter of this route"))
        }
    }

    mutating func single(_ name: String) -> String? {
        guard let given = values[name], let text = given.first else { return nil }
        if given.count > 1 { errors.append(FieldError(field: name, code: "duplicate", message: "must be given once")) }
        // A collection's own `query:` parameters are as long as `q` may be.
        if let limit = Self.maxLengths[name] ?? Self.maxLengths["q"], text.unicodeScalars.count > limit {
            errors.append(FieldError(field: name, code: "too_long", message: "must be at most \(limit) characters"))
            return nil
        }
        return text
    }

    mutating func filter(_ context: FilterContext) -> FilterExpression? {
        guard let text = single("filter") else { return nil }
        do {
            return try FilterParser.parameter(text, context: context)
        } catch {
            errors += error.fieldErrors
            return nil
        }
    }

    /// `?fields=`: names of fields the caller may see.
    mutating func fields(_ collection: CollectionSpec) -> Set<String>? {
        guard let text = single("fields") else { return nil }
        let names = Set(text.split(separator: ",").map(String.init))
        for name in names.sorted() where !ListQuery.visible(name, collection) {
            errors.append(FieldError(field: "fields", code: "unknown_field", message: "\(name) is not a field of \(collection.name)"))
        }
        return names
    }

    /// `?expand=`: relation fields.
    mutating func expand(_ collection: CollectionSpec) -> [String] {
        guard let text = single("expand") else { return [] }
        let names = text.split(separator: ",").map(String.init)
        errors += CollectionStore.expandProblems(names, collection)
        return names
    }

    func finish() throws(AppError) {
        if !errors.isEmpty { throw AppError.validation(errors) }
    }
}

/// A record request's parameters: `fields` and `expand`.
public struct RecordQuery: Sendable {
    public let fields: Set<String>?
    public let expand: [String]

    public init(_ query: [String: [String]], collection: CollectionSpec) throws(AppError) {
        var parameters = QueryParameters(query, allowed: ["fields", "expand"])
        fields = parameters.fields(collection)
        expand = parameters.expand(collection)
        try parameters.finish()
    }
}

/// A realtime subscription's parameters: `filter`.
public struct EventQuery: Sendable {
    public let filter: FilterExpression?

    public init(_ query: [String: [String]], context: FilterContext) throws(AppError) {
        var parameters = QueryParameters(query, allowed: ["filter"])
        filter = parameters.filter(context)
        try parameters.finish()
    }
}
