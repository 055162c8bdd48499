import Foundation
import LLM
import Testing

/// Quoting (log lines, tool results, SSE data) against Foundation's parser: whatever is quoted reads back the same.
@Suite("JSON quoting")
struct JSONQuoteTests {
    @Test("Random strings of the characters that need escaping and those that do not round-trip through Foundation")
    func roundTrip() throws {
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}",
                                     "é", "€", "\u{2028}", "\u{2029}", "\u{2027}", "😀", "\u{E000}"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let text = String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            var bytes: [UInt8] = []
            JSONValue.quote(text, into: &bytes)
            let quoted = String(decoding: bytes, as: UTF8.self)
            let decoded = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) as? String
            #expect(decoded == text, "\(quoted)")
            #expect(!quoted.contains("\u{2028}") && !quoted.contains("\u{2029}"), "line separators are escaped for JavaScript")
        }
    }

    @Test("Long strings with runs of plain text between escapes are written byte for byte as escaping each byte in turn writes them")
    func runsAgainstByteByByte() {
        func byteByByte(_ text: String) -> [UInt8] {
            let bytes = Array(text.utf8)
            var out: [UInt8] = [UInt8(ascii: "\"")], index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case UInt8(ascii: "\n"): out += Array("\\n".utf8)
                case UInt8(ascii: "\r"): out += Array("\\r".utf8)
                case UInt8(ascii: "\t"): out += Array("\\t".utf8)
                case 0..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                    out += Array((bytes[index + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                    index += 2
                default: out.append(byte)
                }
                index += 1
            }
            return out + [UInt8(ascii: "\"")]
        }
        let alphabet: [String] = ["plain text ", "a", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1B}", "\u{1F}", "é", "€", "\u{2028}",
                                  "\u{2029}", "\u{2027}", "😀", "{\"utc\":\"2026-12-04T20:00:00Z\",\"unix\":1796500000}"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let text = (0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            var bytes: [UInt8] = []
            JSONValue.quote(text, into: &bytes)
            #expect(bytes == byteByByte(text), "\(text.debugDescription)")
        }
    }

    @Test("One character that needs escaping anywhere in a long clean string is escaped, and read back (both eight bytes at a time)")
    func everyPosition() throws {
        let specials = ["\"", "\\", "\n", "\u{0}", "\u{1F}", "\u{2028}", "\u{2029}"]
        let harmless = [" ", "\u{7F}", "é", "\u{2027}", "😀", "~"]
        for length in 0...40 {
            for position in 0...length {
                for inserted in specials + harmless {
                    let text = String(repeating: "a", count: position) + inserted + String(repeating: "b", count: length - position)
                    let quoted = Array(JSONValue.string(text).jsonData)
                    let decoded = try JSONSerialization.jsonObject(with: Data(quoted), options: .fragmentsAllowed) as? String
                    #expect(decoded == text, "\(String(decoding: quoted, as: UTF8.self))")
                    #expect(!quoted.contains { $0 < 0x20 }, "no raw control character is written")
                    let inner = String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
                    #expect(!inner.contains("\u{2028}") && !inner.contains("\u{2029}"))
                    #expect(specials.contains(inserted) || inner == text, "a string with nothing to escape is written as it is")
                    // Read back by our parser, which skips eight bytes at a time too; unescaped, a control character is refused.
                    #expect(JSONValue.parse(String(decoding: quoted, as: UTF8.self)) == .string(text))
                    let raw = JSONValue.parse("\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"")
                    #expect(inserted.unicodeScalars.first!.value < 0x20 ? raw == nil : raw == .string(text), "\(text.debugDescription)")
                }
            }
        }
    }

    @Test("Values written as JSON read back the same through Foundation: strings that need escaping, numbers, nesting")
    func values() throws {
        let alphabet: [Character] = ["a", "\"", "\\", "\n", "\u{1}", "é", "\u{2028}", "\u{2029}", "😀"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let text = String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let number = Int64.random(in: Int64.min...Int64.max, using: &generator)
            let value: JSONValue = ["text": .string(text), text: .int(number), "list": [.int(-1), .double(2.5), .bool(true), .null, .string(text)]]
            let read = try #require(try JSONSerialization.jsonObject(with: value.jsonData) as? [String: Any])
            #expect(read["text"] as? String == text)
            #expect((read[text] as? NSNumber)?.int64Value == number || text == "text" || text == "list")
            #expect((read["list"] as? [Any])?.count == 5)
            #expect(JSONValue.parse(value.jsonString) == value)
        }
    }

    @Test("Objects read back with every member, nested in objects and arrays at any depth; a key given twice keeps its last value")
    func objects() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 2 : 4), using: &generator) {
            case 0: .int(Int64.random(in: -1000...1000, using: &generator))
            case 1: .string(String(repeating: "x", count: Int.random(in: 0...3, using: &generator)))
            case 2: .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in random(depth + 1) })
            default: .object(Dictionary((0..<Int.random(in: 0...6, using: &generator)).map { ("k\($0)", random(depth + 1)) }, uniquingKeysWith: { $1 }))
            }
        }
        for _ in 0..<300 {
            let value = random(0)
            #expect(JSONValue.parse(value.jsonString) == value, "\(value.jsonString)")
        }
        #expect(JSONValue.parse(#"{"a": 1, "b": {"a": 2, "c": [{"a": 3}, {}]}, "a": 4}"#)
                == ["a": 4, "b": ["a": 2, "c": [["a": 3], .object([:])]]])
        #expect(JSONValue.parse(#"{"a": 1,}"#) == nil && JSONValue.parse(#"{"a" 1}"#) == nil && JSONValue.parse(#"{"a": 1"#) == nil)
    }

    @Test("An object's members are written in the byte order of their keys' UTF-8, whatever the keys (ASCII, accents, emoji, prefixes)")
    func keyOrder() throws {
        let pieces = ["a", "b", "A", "Z", "_", "0", "é", "e\u{301}", "😀", "\u{7F}", "aa", ""]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...8, using: &generator) {
                let key = (0..<Int.random(in: 0...3, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
                object[key] = .int(Int64(object.count))
            }
            let written = try #require(JSONValue.object(object).jsonString.data(using: .utf8))
            // Each key's quoted form is found in the text after the one before it in byte order.
            var keys = object.keys.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: $0, as: UTF8.self) }
            var text = String(decoding: written, as: UTF8.self)[...]
            while let key = keys.first {
                let quoted = String(decoding: JSONValue.string(key).jsonData, as: UTF8.self) + ":"
                let found = try #require(text.range(of: quoted), "\(key) after the keys before it in \(String(decoding: written, as: UTF8.self))")
                text = text[found.upperBound...]
                keys.removeFirst()
            }
            #expect(JSONValue.parse(String(decoding: written, as: UTF8.self)) == .object(object))
        }
    }
}
