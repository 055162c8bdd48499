import Foundation

/// Any JSON value: tool arguments and results, JSON schemas, provider payloads, conversation metadata.
///
/// Integers stay integers (`3`, not `3.0`) so arguments survive a round trip through the model unchanged.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public subscript(index: Int) -> JSONValue? {
        if case .array(let array) = self, array.indices.contains(index) { return array[index] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    public var intValue: Int? {
        switch self {
        case .int(let value): Int(exactly: value)
        case .double(let value): Int(exactly: value)
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// How deeply arrays and objects nest: 0 for a scalar, 1 for `[]` or `{"a": 1}`. Values that are stored inside
    /// others (metadata, tool arguments) are held well below the parser's limit, so that what is stored can be read.
    public var depth: Int {
        switch self {
        case .array(let array): 1 + (array.lazy.map(\.depth).max() ?? 0)
        case .object(let object): 1 + (object.values.lazy.map(\.depth).max() ?? 0)
        default: 0
        }
    }

    /// The most nesting accepted in metadata and tool arguments.
    public static let maxStoredDepth = 64

    public var isNull: Bool { self == .null }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            self = .int(int)
        } else if let double = try? container.decode(Double.self) {
            self = .double(double)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

// MARK: Text

extension JSONValue {
    /// Parses JSON text; nil when it is not JSON.
    public static func parse(_ text: some StringProtocol) -> JSONValue? {
        JSONParser.parse(Array(text.utf8))
    }

    public static func parse(_ data: Data) -> JSONValue? {
        JSONParser.parse(Array(data))
    }

    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        JSONParser.parse(bytes)
    }

    /// Compact JSON with sorted keys: the same value always gives the same text.
    public var jsonString: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }

    public var jsonData: Data {
        Data(jsonBytes)
    }

    public var jsonBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        write(to: &bytes)
        return bytes
    }

    /// Written by hand, into bytes: JSONEncoder's sorted keys compare with the locale on Linux, which is slow and
    /// loads ICU, and appending to a String checks more per piece than a page of records can afford.
    func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case .double(let value):
            if value.isFinite, value == value.rounded(), abs(value) < 1e15 { out.append(contentsOf: String(Int64(value)).utf8) }
            else if value.isFinite { out.append(contentsOf: "\(value)".utf8) }
            else { out.append(contentsOf: "null".utf8) }
        case .string(let value): Self.quote(value, into: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            // Sorted as pairs: sorting the keys and looking each one up again hashed every key a second time.
            for (index, member) in object.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.quote(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `string` as a JSON string literal: quotes, backslashes and control characters escaped, and the line
    /// separators U+2028/2029 too, so no value can break a line of JSON (the log handler relies on it).
    public static func quote(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if string.utf8.withContiguousStorageIfAvailable({ appendEscaped($0, into: &out) }) == nil {
            Array(string.utf8).withUnsafeBufferPointer { appendEscaped($0, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `string`'s bytes, copied whole: `append(contentsOf: string.utf8)` went through the generic sequence path, a
    /// byte at a time.
    @inline(__always)
    static func appendUTF8(_ string: String, into out: inout [UInt8]) {
        if string.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil { out.append(contentsOf: string.utf8) }
    }

    private static let lowerHex = Array("0123456789abcdef".utf8)

    /// The escaped text of `bytes`: runs with nothing to escape are found eight bytes at a time (`ByteScan`) and
    /// copied whole, so most strings (ids, paths, log messages) are one copy. Every string written passes here: a
    /// byte-by-byte look (`contains(where:)` on the UTF-8 view) was 4% of a chat turn's instructions. U+2028 and
    /// U+2029 are the bytes E2 80 A8 and E2 80 A9, so only a word holding E2 can hold them. A tool's result is JSON
    /// text, quotes throughout, and a turn's requests carry its history's results again at every model call:
    /// appended byte by byte, they cost about 3% of a tool turn's instructions.
    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let raw = UnsafeRawBufferPointer(bytes)
        var plain = 0, index = 0
        func escape(_ text: StaticString, skipping count: Int) {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain..<index]))
            out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
            index += count
            plain = index
        }
        while index < bytes.count {
            index = ByteScan.skipPlain(raw, from: index, alsoStop: 0xE2)
            // The word that may hold something to escape (or the last few bytes), byte by byte.
            let end = min(bytes.count, index + 8)
            while index < end {
                switch bytes[index] {
                case UInt8(ascii: "\""): escape("\\\"", skipping: 1)
                case UInt8(ascii: "\\"): escape("\\\\", skipping: 1)
                case UInt8(ascii: "\n"): escape("\\n", skipping: 1)
                case UInt8(ascii: "\r"): escape("\\r", skipping: 1)
                case UInt8(ascii: "\t"): escape("\\t", skipping: 1)
                case let byte where byte < 0x20:
                    escape("\\u00", skipping: 1)
                    out.append(Self.lowerHex[Int(byte >> 4)])
                    out.append(Self.lowerHex[Int(byte & 0xF)])
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && bytes[index + 2] == 0xA8:
                    escape("\\u2028", skipping: 3)
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && bytes[index + 2] == 0xA9:
                    escape("\\u2029", skipping: 3)
                default:
                    index += 1
                }
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain..<bytes.count]))
    }
}
