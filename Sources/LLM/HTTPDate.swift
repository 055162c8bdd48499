import Foundation

/// HTTP dates (RFC 9110's IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`): written for Last-Modified, read from
/// If-Modified-Since and from an upstream's Retry-After.
public enum HTTPDate {
    public static func format(_ date: Date) -> String {
        formatter("EEE, dd MMM yyyy HH:mm:ss 'GMT'").string(from: date)
    }

    /// The date, whatever zone it names; nil for anything else (or anything longer than a date can be).
    public static func parse(_ text: String) -> Date? {
        text.count <= 64 ? formatter("EEE, dd MMM yyyy HH:mm:ss zzz").date(from: text) : nil
    }

    private static func formatter(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = format
        return formatter
    }
}
