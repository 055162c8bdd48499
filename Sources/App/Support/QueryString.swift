/// A query string's parameters as clients send them, in order: names and values percent-decoded, `+` a space (form
/// encoding); a value that is not percent-encoded correctly is nil. The one reading that contract checks and
/// blueprint routes share.
enum QueryString {
    static func parameters(_ query: Substring) -> [(name: String, value: String?)] {
        query.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let rawName = parts.first, let name = String(rawName).removingPercentEncoding else { return nil }
            let value = parts.count == 2 ? String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
            return (name, value)
        }
    }
}
