/// The paging every list uses: `?page=` (1...1,000,000) and `?per_page=` (1...100, default 20).
public struct PageRequest: Sendable, Equatable {
    public static let maxPerPage = 100
    /// Bounds the offset (at most 99,999,900 rows) so that `offset` can never overflow, whatever a client sends.
    public static let maxPage = 1_000_000
    public let page: Int
    public let perPage: Int

    public init(page: Int?, perPage: Int?) throws {
        var errors: [FieldError] = []
        let page = page ?? 1
        let perPage = perPage ?? 20
        if !(1...Self.maxPage).contains(page) {
            errors.append(FieldError(field: "page", code: "out_of_range", message: "page must be 1...\(Self.maxPage)"))
        }
        if !(1...Self.maxPerPage).contains(perPage) {
            errors.append(FieldError(field: "per_page", code: "out_of_range", message: "per_page must be 1...\(Self.maxPerPage)"))
        }
        if !errors.isEmpty { throw AppError.validation(errors) }
        self.page = page
        self.perPage = perPage
    }

    /// The first page at the default size.
    public static let first = PageRequest(checkedPage: 1, perPage: 20)

    private init(checkedPage page: Int, perPage: Int) {
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
