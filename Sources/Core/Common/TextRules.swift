/// What stored text may hold. PostgreSQL refuses NUL in TEXT columns (SQLite keeps it), so text is checked or
/// cleaned before it is stored, and both engines behave alike.
extension String {
    public var containsNUL: Bool { unicodeScalars.contains { $0.value == 0 } }

    /// Control characters (C0 and DEL) have no place in a one-line value such as a name or a title.
    public var containsControlCharacters: Bool { unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }

    /// The text without NUL characters, for text that comes from elsewhere (a model, a provider) and is stored as is.
    public var withoutNUL: String {
        containsNUL ? String(String.UnicodeScalarView(unicodeScalars.filter { $0.value != 0 })) : self
    }

    /// 1 to `maxLength` of `a-z 0-9 _`, starting with a letter: names that become SQL identifiers or parts of keys.
    public func isLowercaseIdentifier(maxLength: Int) -> Bool {
        guard let first = unicodeScalars.first, ("a"..."z").contains(first), utf8.count <= maxLength else { return false }
        return unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Folded for case-insensitive search the same way on every engine (see `Schema`).
    public var folded: String { withoutNUL.lowercased() }
}
