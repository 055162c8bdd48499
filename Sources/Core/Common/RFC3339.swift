import Foundation

/// RFC 3339 timestamps in UTC (`2026-11-22T01:59:29.101Z`), formatted and parsed by hand.
///
/// Foundation's ISO8601DateFormatter goes through ICU on Linux and was a measurable part of every response that
/// carries a date; this is the one formatter the API, the logs and the tools share.
public enum RFC3339 {
    public static func format(_ date: Date, fractionalDigits: Int = 3) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        var whole = time_t(seconds)
        var parts = tm()
        gmtime_r(&whole, &parts)
        var text = pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
            + "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
        if fractionalDigits > 0 {
            let scale = Int(pow(10, Double(fractionalDigits)))
            text += "." + pad(min(scale - 1, Int(((date.timeIntervalSince1970 - seconds) * Double(scale)).rounded(.down))), fractionalDigits)
        }
        return text + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 116,
              bytes[13] == 58, bytes[16] == 58,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == 46 {
            var scale = 0.1
            index += 1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case 90, 122: index += 1
        case 43, 45:
            guard let hours = number(index + 1, 2), bytes.count > index + 3, bytes[index + 3] == 58,
                  let minutes = number(index + 4, 2) else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == 45 ? -1 : 1)
            index += 6
        default: return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: Double(timegm(&parts) - offset) + fraction)
    }

    /// Exactly `YYYY-MM-DDTHH:MM:SS.sssZ` for a time in whole milliseconds: formatting integers, so that a stored
    /// `.123` never comes back as `.122` through floating point.
    public static func format(millis: Int64) -> String {
        let (seconds, remainder) = millis.quotientAndRemainder(dividingBy: 1000)
        let whole = remainder < 0 ? seconds - 1 : seconds
        let fraction = remainder < 0 ? remainder + 1000 : remainder
        let text = format(Date(timeIntervalSince1970: Double(whole)), fractionalDigits: 0)
        return text.dropLast() + "." + pad(Int(fraction), 3) + "Z"
    }

    /// The instant `text` names, to the millisecond (rounded); nil unless it is RFC 3339 and names a real day.
    public static func millis(_ text: String) -> Int64? {
        guard text.utf8.count >= 20, StringFormat.calendarDate(String(text.prefix(10))) != nil, let date = parse(text) else { return nil }
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        guard abs(millis) < 1e15 else { return nil }
        return Int64(millis)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
