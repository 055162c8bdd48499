import Core

/// A query string's parameters as clients send them, in order: names and values percent-decoded, `+` a space (form
/// encoding); a value that is not percent-encoded correctly is nil. The one reading that contract checks and
/// blueprint routes share.
enum QueryString {
    /// Each parameter's values by name; 400 naming a parameter whose value is not percent-encoded correctly.
    static func byName(_ query: String?) throws -> [String: [String]] {
        var values: [String: [String]] = [:]
        for (name, value) in parameters(Substring(query ?? "")) {
            guard let value else {
                throw AppError.validation([FieldError(field: name, code: "invalid_value", message: "is not percent-encoded correctly")])
            }
            values[name, default: []].append(value)
        }
        return values
    }

    static func parameters(_ query: Substring) -> [(name: String, value: String?)] {
        query.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let rawName = parts.first, let name = decoded(rawName, plusIsSpace: false) else { return nil }
            let value = parts.count == 2 ? decoded(parts[1], plusIsSpace: true) : ""
            return (name, value)
        }
    }

    /// Percent-decoded (byte by byte: Foundation's decoding was a measurable part of every listed page); nil for a
    /// `%` not followed by two hex digits, or bytes that are not UTF-8.
    static func decoded(_ text: Substring, plusIsSpace: Bool) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            index = utf8.index(after: index)
            if byte == UInt8(ascii: "+"), plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                guard index != utf8.endIndex, let high = utf8[index].hexDigitValue else { return nil }
                index = utf8.index(after: index)
                guard index != utf8.endIndex, let low = utf8[index].hexDigitValue else { return nil }
                index = utf8.index(after: index)
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
