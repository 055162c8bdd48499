import App
import HTTPTypes
import Testing

/// `HTTPFields.value(_:)` reads headers on every request in place of the subscript: it must answer what the subscript
/// answers, for names given once, several times (joined) or not at all, and for Cookie (joined with semicolons).
@Suite("Header values")
struct HTTPFieldsValueTests {
    @Test("value(_:) agrees with the subscript on random header sets with repeated names")
    func agreesWithSubscript() {
        let names: [HTTPField.Name] = [.authorization, .contentType, .cookie, .accept, HTTPField.Name("X-Request-ID")!]
        let values = ["", "a", "Bearer abc.def", "x=1", "text/event-stream", " spaced "]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var fields = HTTPFields()
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                fields.append(HTTPField(name: names.randomElement(using: &generator)!, value: values.randomElement(using: &generator)!))
            }
            for name in names {
                #expect(fields.value(name) == fields[name], "\(name): \(fields)")
            }
        }
    }
}
