import Core
import LLM

/// A list request's parameters, read and checked: `page`, `per_page`, `filter`, `sort`, `fields`, `q`. Every problem
/// is a 400 naming the parameter; nothing a client sends reaches SQL except as a bound value or a name found in the
/// collection's schema.
public struct ListQuery: Sendable {
    public static let maxSortKeys = 4

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
        var parameters = QueryParameters(query, allowed: ["page", "per_page", "filter", "sort", "fields", "q", "expand"])
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
        if let text = parameters.single("q") {
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
