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
            var quoted = ""
            JSONValue.quote(text, into: &quoted)
            let decoded = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed) as? String
            #expect(decoded == text, "\(quoted)")
            #expect(!quoted.contains("\u{2028}") && !quoted.contains("\u{2029}"), "line separators are escaped for JavaScript")
        }
    }
}
