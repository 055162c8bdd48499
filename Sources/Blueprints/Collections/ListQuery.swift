import Core
import LLM

/// A list request's parameters, read and checked: `page`, `per_page`, `filter`, `sort`, `fields`, `q`. Every problem
/// is a 400 naming the parameter; nothing a client sends reaches SQL except as a bound value or a name found in the
/// collection's schema.
public struct ListQuery: Sendable {
    public static let maxSortKeys = 4
    /// The parameters every list takes; a collection's `query:` adds its own.
    public static let parameters: Set = ["page", "per_page", "filter", "sort", "fields", "q", "expand"]

    public var page = PageRequest.first
    public var filter: FilterExpression?
    /// Field and direction, in order.
    public var sort: [(field: String, descending: Bool)] = [(SystemField.createdAt.rawValue, true)]
    /// Nil: every visible field.
    public var fields: Set<String>?
    public var search: String?
    /// Relation fields whose records to embed under `expand`.
    public var expand: [String] = []

    public init() {}

    /// Reads the parameters of a list (`query` holds each parameter's values, in order).
    public init(_ query: [String: [String]], collection: CollectionSpec, context: FilterContext) throws(AppError) {
        var parameters = QueryParameters(query, allowed: Self.parameters.union(collection.queryFilters.map(\.name)))
        func integer(_ name: String) -> Int? {
            guard let text = parameters.single(name) else { return nil }
            guard let value = Int(text) else {
                parameters.errors.append(FieldError(field: name, code: "invalid_type", message: "must be a whole number"))
                return nil
            }
            return value
        }
        let pageNumber = integer("page")
        let perPage = integer("per_page")
        do {
            page = try PageRequest(page: pageNumber, perPage: perPage)
        } catch {
            parameters.errors += (error as? AppError)?.fieldErrors ?? []
        }
        filter = parameters.filter(context)
        if let text = parameters.single("sort") {
            let keys = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
            if keys.count > Self.maxSortKeys || keys.contains(where: \.isEmpty) {
                parameters.errors.append(FieldError(field: "sort", code: "invalid_sort", message: "names 1 to \(Self.maxSortKeys) fields, comma-separated"))
            } else {
                sort = []
                for key in keys {
                    let descending = key.hasPrefix("-")
                    let name = descending ? String(key.dropFirst()) : key
                    if Self.sortable(name, collection) { sort.append((name, descending)) }
                    else { parameters.errors.append(FieldError(field: "sort", code: "invalid_sort", message: "cannot sort by \(name)")) }
                }
            }
        }
        fields = parameters.fields(collection)
        var own: [FilterExpression] = []
        var searched = parameters.single("q")
        for declared in collection.queryFilters {
            guard let text = parameters.single(declared.name) else { continue }
            guard let template = declared.filter else {
                searched = searched ?? text
                continue
            }
            if let expression = Self.queryFilter(template, value: text, collection: collection, context: context, name: declared.name,
                                                 errors: &parameters.errors) {
                own.append(expression)
            }
        }
        if !own.isEmpty { filter = .all((filter.map { [$0] } ?? []) + own) }
        if let text = searched {
            if collection.search.isEmpty {
                parameters.errors.append(FieldError(field: "q", code: "unknown_parameter", message: "\(collection.name) has no searchable fields"))
            } else if text.containsNUL {
                parameters.errors.append(FieldError(field: "q", code: "invalid_text", message: "must not contain NUL characters"))
            } else if !text.isEmpty {
                search = text.folded
            }
        }
        expand = parameters.expand(collection)
        try parameters.finish()
    }

    /// A `query:` filter with the parameter's value as `@query`: as text, or as the number or boolean it reads as
    /// when the field compared is one; a value it cannot compare is a 400 naming the parameter.
    private static func queryFilter(_ template: String, value: String, collection: CollectionSpec, context: FilterContext, name: String,
                                     errors: inout [FieldError]) -> FilterExpression? {
        var candidates: [JSONValue] = [.string(value)]
        switch JSONValue.parse(value) {
        case let parsed? where parsed.intValue != nil || parsed.doubleValue != nil || parsed.boolValue != nil: candidates.append(parsed)
        default: break
        }
        var problem = "cannot be compared with \(collection.name)'s fields"
        for candidate in candidates {
            var scoped = context
            scoped.query = candidate
            do {
                let expression = try FilterParser.parse(template, context: scoped)
                _ = try FilterSQL(collection: collection, engine: .sqlite).condition(expression)
                return expression
            } catch let error as AppError {
                problem = error.fieldErrors.first?.message ?? problem
            } catch {
                problem = (error as? FilterSyntaxError)?.message ?? problem
            }
        }
        errors.append(FieldError(field: name, code: "invalid_value", message: problem))
        return nil
    }

    static func visible(_ name: String, _ collection: CollectionSpec) -> Bool {
        if let field = collection.field(name) { return !field.hidden }
        guard let system = SystemField(rawValue: name) else { return false }
        return collection.showsSystemField(system)
    }

    static func sortable(_ name: String, _ collection: CollectionSpec) -> Bool {
        if let field = collection.field(name) { return !field.hidden && field.kind != .json }
        return visible(name, collection)
    }
}
