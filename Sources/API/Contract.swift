import Foundation

/// The HTTP contract as written: `openapi.yaml`, from which the server's types and routes are generated.
public enum Contract {
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
