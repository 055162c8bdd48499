import API
import Foundation
import Yams

/// The contract as served: `openapi.yaml` converted once to JSON for `/openapi.json`.
struct OpenAPIDocument {
    let object: [String: Any]

    init() throws {
        guard let object = try Yams.load(yaml: Contract.yaml()) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        self.object = object
    }

    /// No `.sortedKeys`: on Linux it sorts with locale-aware comparison, which loads ICU (megabytes of resident
    /// memory) for a document that is read by machines.
    func json() throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
    }

    /// The operations that say `security: []`: the only ones served without an identity.
    var publicOperations: Set<String> {
        Set(publicRoutes.map(\.operationID))
    }

    /// The paths of the public operations: the plan's rate limit does not apply to them (health checks, keys,
    /// sign-in and webhooks answer whoever asks; sign-in has a throttle of its own), so a client that sends a token
    /// there can never get a 429 that their contract does not list.
    var publicPaths: Set<String> {
        Set(publicRoutes.map(\.path))
    }

    private var publicRoutes: [(path: String, operationID: String)] {
        let paths = object["paths"] as? [String: [String: Any]] ?? [:]
        var routes: [(path: String, operationID: String)] = []
        for (path, item) in paths {
            for case let operation as [String: Any] in item.values {
                if let security = operation["security"] as? [Any], security.isEmpty, let id = operation["operationId"] as? String {
                    routes.append((path, id))
                }
            }
        }
        return routes
    }
}
