import Foundation
import LLM

extension OutputFormat {
    /// The JSON object an answer holds, if it is one that follows the schema: whole, or fenced as ```json ... ```,
    /// as models asked in words sometimes write it. Nil for anything else.
    public func answer(_ text: String) -> JSONValue? {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if body.hasPrefix("```") {
            body = body.dropFirst(3).drop { $0 != "\n" }
            if body.hasSuffix("```") { body = body.dropLast(3) }
        }
        guard let value = JSONValue.parse(Data(body.utf8)), case .object = value, JSONSchema.validate(value, against: schema).isEmpty else {
            return nil
        }
        return value
    }
}
