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
        Set(operations.filter { $0.isPublic }.map { $0.id })
    }

    /// The paths whose every operation is public: no identity is resolved there and the plan's rate limit does not
    /// apply (health checks, keys, sign-in and webhooks answer whoever asks; sign-in has a throttle of its own), so a
    /// client that sends a token there can never get a 429 that their contract does not list. A path that also has
    /// an operation needing an identity is not among them.
    var publicPaths: Set<String> {
        let byPath = Dictionary(grouping: operations) { $0.path }
        return Set(byPath.filter { $0.value.allSatisfy { $0.isPublic } }.keys)
    }

    private var operations: [(path: String, id: String, isPublic: Bool)] {
        let paths = object["paths"] as? [String: [String: Any]] ?? [:]
        var operations: [(path: String, id: String, isPublic: Bool)] = []
        for (path, item) in paths {
            for case let operation as [String: Any] in item.values {
                guard let id = operation["operationId"] as? String else { continue }
                operations.append((path, id, (operation["security"] as? [Any])?.isEmpty == true))
            }
        }
        return operations
    }
}
