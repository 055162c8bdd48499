/// The paging every list uses: `?page=` (from 1) and `?per_page=` (1...100, default 20).
public struct PageRequest: Sendable, Equatable {
    public static let maxPerPage = 100
    public let page: Int
    public let perPage: Int

    public init(page: Int?, perPage: Int?) throws {
        var errors: [FieldError] = []
        let page = page ?? 1
        let perPage = perPage ?? 20
        if page < 1 { errors.append(FieldError(field: "page", code: "out_of_range", message: "page starts at 1")) }
        if !(1...Self.maxPerPage).contains(perPage) {
            errors.append(FieldError(field: "per_page", code: "out_of_range", message: "per_page must be 1...\(Self.maxPerPage)"))
        }
        if !errors.isEmpty { throw AppError.validation(errors) }
        self.page = page
        self.perPage = perPage
    }

    public var offset: Int { (page - 1) * perPage }
}

public struct Page<Item: Sendable>: Sendable {
    public let items: [Item]
    public let total: Int
    public let page: Int
    public let perPage: Int

    public init(items: [Item], total: Int, request: PageRequest) {
        self.items = items
        self.total = total
        self.page = request.page
        self.perPage = request.perPage
    }
}
