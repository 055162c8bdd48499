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

    @Test("One character that needs escaping anywhere in a long clean string is escaped (strings are checked eight bytes at a time)")
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
}
