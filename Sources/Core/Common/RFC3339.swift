import Foundation

/// RFC 3339 timestamps in UTC (`2026-11-22T01:59:29.101Z`), formatted and parsed by hand.
///
/// Foundation's ISO8601DateFormatter goes through ICU on Linux and was a measurable part of every response that
/// carries a date; this is the one formatter the API, the logs and the tools share.
public enum RFC3339 {
    public static func format(_ date: Date, fractionalDigits: Int = 3) -> String {
        if let civil = civil(date, fractionalDigits: fractionalDigits) {
            return String(unsafeUninitializedCapacity: 24) { civil.time.write(milliseconds: civil.milliseconds, into: $0) }
        }
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

    /// `format`'s bytes appended to `out`, without making the string: a JSON body writes a date this way.
    public static func append(_ date: Date, fractionalDigits: Int = 3, to out: inout [UInt8]) {
        guard let civil = civil(date, fractionalDigits: fractionalDigits) else {
            return out.append(contentsOf: format(date, fractionalDigits: fractionalDigits).utf8)
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            let count = civil.time.write(milliseconds: civil.milliseconds, into: buffer)
            out.append(contentsOf: UnsafeMutableBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Whole seconds and milliseconds, the API's and the logs' formats, are written from `CivilTime` (a chat turn
    /// formats about a hundred dates, and building them from parts was half a percent of its instructions); nil for
    /// other precisions and years outside 0000...9999.
    private static func civil(_ date: Date, fractionalDigits: Int) -> (time: CivilTime, milliseconds: Int?)? {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard fractionalDigits == 0 || fractionalDigits == 3, seconds >= -62_135_596_800, seconds < 253_402_300_800,
              let time = CivilTime(Int64(seconds)) else { return nil }
        return (time, fractionalDigits == 0 ? nil : min(999, Int(((date.timeIntervalSince1970 - seconds) * 1000).rounded(.down))))
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
    /// Written straight into the 24 bytes it takes, from the civil calendar computed by arithmetic (Howard
    /// Hinnant's days-to-civil): every record of a page carries two of these, and building them from parts was a
    /// tenth of a list's time. Years outside 0000...9999 take the general path.
    public static func format(millis: Int64) -> String {
        let (seconds, remainder) = millis.quotientAndRemainder(dividingBy: 1000)
        let whole = remainder < 0 ? seconds - 1 : seconds
        let fraction = Int(remainder < 0 ? remainder + 1000 : remainder)
        if let time = CivilTime(whole) {
            return String(unsafeUninitializedCapacity: 24) { time.write(milliseconds: fraction, into: $0) }
        }
        let text = format(Date(timeIntervalSince1970: Double(whole)), fractionalDigits: 0)
        return text.dropLast() + "." + pad(fraction, 3) + "Z"
    }

    /// A time in whole seconds since 1970 as the civil calendar's day and second, computed by arithmetic (Howard
    /// Hinnant's days-to-civil), and written straight into the 20 or 24 bytes of `YYYY-MM-DDTHH:MM:SS[.sss]Z`.
    private struct CivilTime {
        let year: Int, month: Int, day: Int, secondOfDay: Int

        /// nil for years outside 0000...9999.
        init?(_ whole: Int64) {
            let (quotient, rest) = whole.quotientAndRemainder(dividingBy: 86_400)
            let days = rest < 0 ? quotient - 1 : quotient
            secondOfDay = Int(rest < 0 ? rest + 86_400 : rest)
            // Days since 1970-01-01 to year, month, day, counting eras of 400 years from 0000-03-01.
            let shifted = days + 719_468
            let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
            let dayOfEra = shifted - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let monthIndex = (5 * dayOfYear + 2) / 153
            day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
            month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
            year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
            guard (0...9999).contains(year) else { return nil }
        }

        /// The text into `buffer` (24 bytes or more), with `.sss` when `fraction` is given; its length.
        func write(milliseconds fraction: Int?, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
            func put(_ value: Int, _ width: Int, at start: Int) {
                var value = value
                for index in stride(from: start + width - 1, through: start, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, 2, at: 17)
            guard let fraction else {
                buffer[19] = UInt8(ascii: "Z")
                return 20
            }
            buffer[19] = UInt8(ascii: ".")
            put(fraction, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
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
