import Core
import Foundation
import OpenAPIRuntime

/// The API's date format: RFC 3339 in UTC, whole seconds out, any RFC 3339 timestamp in.
struct RFC3339DateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String { RFC3339.format(date, fractionalDigits: 0) }

    func decode(_ text: String) throws -> Date {
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Expected an RFC 3339 date-time."))
        }
        return date
    }
}
