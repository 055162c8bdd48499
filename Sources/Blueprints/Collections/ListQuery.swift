import Core
import LLM

/// A list request's parameters, read and checked: `page`, `per_page`, `filter`, `sort`, `fields`, `q`. Every problem
/// is a 400 naming the parameter; nothing a client sends reaches SQL except as a bound value or a name found in the
/// collection's schema.
public struct ListQuery: Sendable {
    public static let maxSortKeys = 4
    public static let maxSearchLength = 200

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
        var errors: [FieldError] = []
        func single(_ name: String) -> String? {
            guard let values = query[name] else { return nil }
            if values.count > 1 { errors.append(FieldError(field: name, code: "repeated", message: "is given more than once")) }
            return values.first
        }
        for name in query.keys.sorted() where !["page", "per_page", "filter", "sort", "fields", "q", "expand"].contains(name) {
            errors.append(FieldError(field: name, code: "unknown_parameter", message: "is not a parameter of this route"))
        }
        func integer(_ name: String) -> Int? {
            guard let text = single(name) else { return nil }
            guard let value = Int(text) else {
                errors.append(FieldError(field: name, code: "invalid_type", message: "must be a whole number"))
                return nil
            }
            return value
        }
        let pageNumber = integer("page")
        let perPage = integer("per_page")
        do {
            page = try PageRequest(page: pageNumber, perPage: perPage)
        } catch {
            errors += (error as? AppError)?.fieldErrors ?? []
        }
        if let text = single("filter") {
            do {
                filter = try FilterParser.parameter(text, context: context)
            } catch {
                errors += error.fieldErrors
            }
        }
        if let text = single("sort") {
            let keys = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
            if keys.count > Self.maxSortKeys || keys.contains(where: \.isEmpty) {
                errors.append(FieldError(field: "sort", code: "invalid_sort", message: "names 1 to \(Self.maxSortKeys) fields, comma-separated"))
            } else {
                sort = []
                for key in keys {
                    let descending = key.hasPrefix("-")
                    let name = descending ? String(key.dropFirst()) : key
                    if Self.sortable(name, collection) { sort.append((name, descending)) }
                    else { errors.append(FieldError(field: "sort", code: "invalid_sort", message: "cannot sort by \(name)")) }
                }
            }
        }
        if let text = single("fields") {
            let names = Set(text.split(separator: ",").map(String.init))
            for name in names.sorted() where !Self.visible(name, collection) {
                errors.append(FieldError(field: "fields", code: "unknown_field", message: "\(name) is not a field of \(collection.name)"))
            }
            fields = names
        }
        if let text = single("q") {
            if collection.search.isEmpty {
                errors.append(FieldError(field: "q", code: "unknown_parameter", message: "\(collection.name) has no searchable fields"))
            } else if text.count > Self.maxSearchLength || text.containsNUL {
                errors.append(FieldError(field: "q", code: "too_long", message: "must be at most \(Self.maxSearchLength) characters"))
            } else if !text.isEmpty {
                search = text.folded
            }
        }
        if let text = single("expand") {
            expand = text.split(separator: ",").map(String.init)
            errors += CollectionStore.expandProblems(expand, collection)
        }
        if !errors.isEmpty { throw AppError.validation(errors) }
    }

    static func visible(_ name: String, _ collection: CollectionSpec) -> Bool {
        if let field = collection.field(name) { return !field.hidden }
        guard let system = SystemField(rawValue: name) else { return false }
        return system != .ownerID || collection.owner == .user
    }

    static func sortable(_ name: String, _ collection: CollectionSpec) -> Bool {
        if let field = collection.field(name) { return !field.hidden && field.kind != .json }
        return visible(name, collection)
    }
}
