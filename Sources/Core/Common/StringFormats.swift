import Foundation
import Synchronization

/// The string `format`s a schema may name, checked the same way wherever a schema is enforced.
public enum StringFormat: String, Sendable, CaseIterable {
    case date
    case dateTime = "date-time"
    case email
    case uuid
    case uri

    public func accepts(_ text: String) -> Bool {
        switch self {
        case .date: Self.calendarDate(text) != nil
        case .dateTime: RFC3339.millis(text) != nil
        case .email: Credentials.normalizedEmail(text) == text.lowercased() && text.count <= 254
        case .uuid: UUID.parse(text) != nil && text.utf8.count == 36
        case .uri: Self.isURI(text)
        }
    }

    public var described: String {
        switch self {
        case .date: "a date (YYYY-MM-DD)"
        case .dateTime: "an RFC 3339 date-time (2026-01-31T09:30:00Z)"
        case .email: "an email address"
        case .uuid: "a UUID"
        case .uri: "an absolute URI"
        }
    }

    /// `YYYY-MM-DD` naming a day that exists; its parts, or nil.
    public static func calendarDate(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), (1...12).contains(month) else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day) ? (year, month, day) : nil
    }

    /// A scheme, a colon and no whitespace or control characters: what RFC 3986 calls an absolute URI, loosely.
    private static func isURI(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.count <= 2048 else { return false }
        let scheme = text[..<colon]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }) else { return false }
        return !text.contains { $0.isWhitespace } && !text.containsControlCharacters && text.index(after: colon) != text.endIndex
    }
}

/// Compiled `pattern`s. Patterns come from schemas the operator wrote (tools, blueprints), never from clients, so
/// there are few of them: each is compiled once and kept.
public enum Patterns {
    private static let cache = Mutex<[String: NSRegularExpression]>([:])

    /// Whether `pattern` (ECMA-262 style, unanchored, as JSON Schema says) finds a match in `text`. A pattern that
    /// does not compile matches nothing; blueprint checks refuse such patterns before anything runs.
    public static func matches(_ text: String, _ pattern: String) -> Bool {
        guard let expression = compiled(pattern) else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    public static func compiled(_ pattern: String) -> NSRegularExpression? {
        if let known = cache.withLock({ $0[pattern] }) { return known }
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        cache.withLock { $0[pattern] = expression }
        return expression
    }
}
