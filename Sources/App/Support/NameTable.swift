/// A fixed table of short strings (paths, operation ids) that the middleware looks up on every request, kept by
/// length: a look-up compares the few names of the asked name's length, where a dictionary or set hashed it (with
/// a seed and a finalization) and then compared it with the names sharing its bucket, 300 to 900 instructions a
/// look-up, four of them in every authenticated request.
struct NameTable<Value: Sendable>: Sendable {
    /// `byLength[n]`: the names of `n` UTF-8 bytes, with their values.
    private var byLength: [[(name: String, value: Value)]] = []

    init() {}

    init(_ entries: some Sequence<(String, Value)>) {
        for (name, value) in entries { self[name] = value }
    }

    subscript(_ name: String) -> Value? {
        get {
            let length = name.utf8.count
            guard length < byLength.count else { return nil }
            return byLength[length].first { $0.name == name }?.value
        }
        set {
            let length = name.utf8.count
            if byLength.count <= length { byLength += Array(repeating: [], count: length + 1 - byLength.count) }
            byLength[length].removeAll { $0.name == name }
            if let newValue { byLength[length].append((name, newValue)) }
        }
    }
}

/// A set of names, looked up as `NameTable` does.
struct NameSet: Sendable, ExpressibleByArrayLiteral {
    private let table: NameTable<Void>

    init(_ names: some Sequence<String>) { table = NameTable(names.map { ($0, ()) }) }

    init(arrayLiteral names: String...) { self.init(names) }

    func contains(_ name: String) -> Bool { table[name] != nil }
}
