import HTTPTypes

extension HTTPFields {
    /// What `self[name]` answers (the values of every field of that name, joined with commas, or semicolons for
    /// Cookie), without its cost when the name appears once, which is nearly always: the subscript joins through a
    /// generic lazy sequence even then, some 2,000 instructions a header, and each request read five or six.
    public func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
