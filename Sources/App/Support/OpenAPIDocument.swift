import API
import Blueprints
import Foundation
import LLM
import Yams

/// The contract as served: `openapi.yaml` converted once to JSON for `/openapi.json`, and its operations read once
/// for the middleware that enforces what the generated server does not (security, query bounds, methods).
struct OpenAPIDocument {
    /// One operation of the contract, with the parameters of its path item and its own, references resolved.
    struct Operation {
        let path: String
        let method: String
        let id: String?
        let isPublic: Bool
        let parameters: [[String: Any]]
    }

    let object: [String: Any]
    let operations: [Operation]
    /// A blueprint's platform aliases: `POST /api/v1/auth/register` -> the platform path it stands for.
    let aliases: PathAliases
    /// Public routes left out of the contract (built-in sign-in beside an identity provider), by path and operation:
    /// still served without a token (`publicPaths`, `publicOperations`), so that they answer 404 as routes that do not
    /// exist, not 401.
    private let unlistedPublicPaths: Set<String>
    private let unlistedPublicOperations: Set<String>

    /// The operations of built-in accounts, which an external identity provider's server does not serve (404).
    static let builtinAccountOperations: Set = ["signup", "login", "token", "refresh", "logout", "listSessions", "deleteSession", "changePassword"]

    /// The contract, with a blueprint's collection routes and schemas added when one is served; without built-in
    /// accounts' operations when the server takes an external provider's tokens, so that what it lists as public is
    /// exactly what it serves without a token.
    init(blueprint: Blueprint? = nil, builtinAccounts: Bool = true) throws {
        guard var object = try Yams.load(yaml: Contract.yaml()) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        var unlisted: [(path: String, operation: String)] = []
        if !builtinAccounts, var paths = object["paths"] as? [String: Any] {
            for case let (path, item as [String: Any]) in paths {
                var kept = item
                for case let (method, operation as [String: Any]) in item {
                    guard let id = operation["operationId"] as? String, Self.builtinAccountOperations.contains(id) else { continue }
                    kept[method] = nil
                    if (operation["security"] as? [Any])?.isEmpty == true { unlisted.append((path, id)) }
                }
                paths[path] = kept.keys.allSatisfy { $0 == "parameters" } ? nil : kept
            }
            object["paths"] = paths
        }
        unlistedPublicPaths = Set(unlisted.map(\.path))
        unlistedPublicOperations = Set(unlisted.map(\.operation))
        if let blueprint {
            let part = CollectionContract.part(for: blueprint)
            var paths = object["paths"] as? [String: Any] ?? [:]
            // A blueprint adds routes; it never takes one of the platform's (the router would hold two handlers), but
            // for the chat socket, which a WebSocket chat route at its path replaces.
            let platform = Set((Array(paths.keys) + [ChatSocket.platformPath, "/openapi.json", "/docs"]).map(Self.shape))
            let sockets = blueprint.chatRoutes.filter { $0.method == ChatRoute.webSocket }.map { blueprint.prefix + $0.path }
                .filter { $0 != ChatSocket.platformPath }
            for path in (Array(part.paths.keys) + sockets).sorted() where platform.contains(Self.shape(path)) {
                throw StartupError(message: "blueprint: \(path) is a route of the platform; give the collection or chat route another path")
            }
            for (path, item) in part.paths { paths[path] = item.foundationObject }
            object["paths"] = paths
            var components = object["components"] as? [String: Any] ?? [:]
            var schemas = components["schemas"] as? [String: Any] ?? [:]
            for (name, schema) in part.schemas { schemas[name] = schema.foundationObject }
            if blueprint.epochTokenExpiry, var tokens = schemas["TokenResponse"] as? [String: Any], var properties = tokens["properties"] as? [String: Any] {
                properties["expires_at"] = ["type": "integer", "description": "When the access token expires, in seconds since 1970 (app.token_expiry)."]
                tokens["properties"] = properties
                schemas["TokenResponse"] = tokens
            }
            components["schemas"] = schemas
            object["components"] = components
        }
        var aliases = PathAliases()
        for alias in blueprint?.platformAliases ?? [] {
            var paths = object["paths"] as? [String: Any] ?? [:]
            let found = paths.lazy.compactMap { path, item -> (String, [String: Any], String, [String: Any])? in
                guard let item = item as? [String: Any] else { return nil }
                for case let (method, operation as [String: Any]) in item where operation["operationId"] as? String == alias.operationID {
                    return (path, item, method, operation)
                }
                return nil
            }.first
            guard let (target, targetItem, method, operation) = found, method == alias.method.lowercased() else {
                throw StartupError(message: "blueprint routes.\(alias.operation): there is no platform operation \(alias.operationID), "
                                   + "or it is not a \(alias.method)")
            }
            let names = Self.parameterNames(target)
            guard Self.parameterNames(alias.path).count == names.count else {
                throw StartupError(message: "blueprint routes.\(alias.operation): \(target) has \(names.count) path parameters; "
                                   + "the alias's path must have as many")
            }
            // The contract names the alias's parameters as the platform's, so the copied operation describes them.
            var remaining = names.makeIterator()
            let path = (blueprint?.prefix ?? "") + alias.path.split(separator: "/", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("{") ? "{\(remaining.next() ?? "")}" : String($0) }.joined(separator: "/")
            var copy = operation
            copy["operationId"] = alias.operationID + "At" + CollectionContract.camel(alias.path.filter { $0 != "{" && $0 != "}" }
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "-", with: "_"))
            // The path item's parameters belong to the operation at its new path; the fixed query's are not the client's.
            let fixed = Set(alias.query.map(\.name))
            let parameters = (targetItem["parameters"] as? [[String: Any]] ?? []) + (operation["parameters"] as? [[String: Any]] ?? [])
            let queryNames = Set(parameters.compactMap { Self.resolve($0, in: object) }.filter { $0["in"] as? String == "query" }
                .compactMap { $0["name"] as? String })
            guard fixed.isSubset(of: queryNames) else {
                throw StartupError(message: "blueprint routes.\(alias.operation): \(alias.operationID) has no query parameter "
                                   + fixed.subtracting(queryNames).sorted().joined(separator: ", "))
            }
            copy["parameters"] = parameters.filter { parameter in
                guard let resolved = Self.resolve(parameter, in: object) else { return true }
                return !(resolved["in"] as? String == "query" && fixed.contains(resolved["name"] as? String ?? ""))
            }
            var item = paths[path] as? [String: Any] ?? [:]
            item[method] = copy
            paths[path] = item
            object["paths"] = paths
            aliases.add(method: alias.method, path: path, target: target, query: alias.query)
        }
        self.aliases = aliases
        self.object = object
        operations = Self.operations(of: object)
    }

    /// A path with its parameters' names left out: `/a/{id}` and `/a/{x}` are one route to the router.
    static func shape(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix("{") ? "{}" : String($0) }.joined(separator: "/")
    }

    /// No `.sortedKeys`: on Linux it sorts with locale-aware comparison, which loads ICU (megabytes of resident
    /// memory) for a document that is read by machines.
    func json() throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
    }

    /// The operations that say `security: []` (and the unlisted ones): the only ones served without an identity.
    var publicOperations: Set<String> {
        Set(operations.filter { $0.isPublic }.compactMap { $0.id }).union(unlistedPublicOperations)
    }

    /// The paths whose every operation is public: no identity is resolved there and the plan's rate limit does not
    /// apply (health checks, keys, sign-in and webhooks answer whoever asks; sign-in has a throttle of its own), so a
    /// client that sends a token there can never get a 429 that their contract does not list. A path that also has
    /// an operation needing an identity is not among them.
    var publicPaths: Set<String> {
        Set(Dictionary(grouping: operations) { $0.path }.filter { $0.value.allSatisfy { $0.isPublic } }.keys).union(unlistedPublicPaths)
    }

    /// Every path of the contract with its methods.
    var methodsByPath: [String: [String]] {
        Dictionary(grouping: operations) { $0.path }.mapValues { $0.map { $0.method } }
    }

    private static let methods: Set = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// `{name}` segments of a path, in order.
    private static func parameterNames(_ path: String) -> [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }

    /// A parameter, its `$ref` to `components.parameters` followed.
    private static func resolve(_ parameter: [String: Any], in object: [String: Any]) -> [String: Any]? {
        guard let reference = parameter["$ref"] as? String else { return parameter }
        let components = (object["components"] as? [String: Any])?["parameters"] as? [String: [String: Any]] ?? [:]
        return components[String(reference.split(separator: "/").last ?? "")]
    }

    private static func operations(of object: [String: Any]) -> [Operation] {
        var operations: [Operation] = []
        for case let (path, item as [String: Any]) in object["paths"] as? [String: Any] ?? [:] {
            let shared = item["parameters"] as? [[String: Any]] ?? []
            for case let (method, operation as [String: Any]) in item where methods.contains(method) {
                operations.append(Operation(path: path, method: method, id: operation["operationId"] as? String,
                                            isPublic: (operation["security"] as? [Any])?.isEmpty == true,
                                            parameters: (shared + (operation["parameters"] as? [[String: Any]] ?? [])).compactMap { resolve($0, in: object) }))
            }
        }
        return operations
    }
}

extension JSONValue {
    /// As Foundation's JSON objects, for `JSONSerialization`.
    var foundationObject: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .int(let value): value
        case .double(let value): value
        case .string(let value): value
        case .array(let values): values.map(\.foundationObject)
        case .object(let members): members.mapValues(\.foundationObject)
        }
    }
}
