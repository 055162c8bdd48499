import Foundation

extension String {
    /// Without white space and newlines at either end, as `trimmingCharacters(in: .whitespacesAndNewlines)`. Most
    /// text has none there, and Foundation's trimming goes through `NSString` each time (about 2% of a busy chat
    /// server's time), so that case returns `self` at once.
    public var trimmingWhitespaceAndNewlines: String {
        guard let first = unicodeScalars.first, let last = unicodeScalars.last else { return self }
        let edges = CharacterSet.whitespacesAndNewlines
        guard edges.contains(first) || edges.contains(last) else { return self }
        return trimmingCharacters(in: edges)
    }
}
