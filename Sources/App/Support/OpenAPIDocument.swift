import API
import Foundation
import Yams

/// The contract as served: `openapi.yaml` converted once to JSON for `/openapi.json`.
enum OpenAPIDocument {
    static func json() throws -> Data {
        guard let object = try Yams.load(yaml: try Contract.yaml()) else { throw CocoaError(.fileReadCorruptFile) }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
