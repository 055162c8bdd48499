import Core
import Foundation
import LLM

/// The checks of what a collection does besides holding fields: its hooks, relations, routes and rules.
extension Checker {
    /// `hooks: {after_create: [{increment: {profile: affinity_score, by: 1}}, {create: {collection: c, record: {...}}}]}`.
    mutating func hooks(_ value: JSONValue?, at: String) -> [HookEvent: [HookAction]] {
        guard let value else { return [:] }
        guard case .object(let events) = value else {
            problem(at, "must map after_create, after_update or after_delete to lists of steps")
            return [:]
        }
        allowOnly(events, at: at, known: Set(HookEvent.allCases.map(\.rawValue)))
        var hooks: [HookEvent: [HookAction]] = [:]
        for event in HookEvent.allCases {
            guard let steps = events[event.rawValue] else { continue }
            for (index, step) in (steps.arrayValue ?? []).enumerated() {
                let stepAt = "\(at).\(event.rawValue).\(index)"
                guard case .object(let object) = step, object.count == 1, let (kind, body) = object.first, case .object(let spec) = body else {
                    problem(stepAt, "a step is one of {increment: ...}, {decrement: ...}, {set: ...}, {create: ...}")
                    continue
                }
                let target: HookTarget? = spec["profile"] != nil ? .profile : spec["relation"]?.stringValue.map(HookTarget.relation)
                let field = spec["profile"]?.stringValue ?? spec["field"]?.stringValue
                switch kind {
                case "increment", "decrement":
                    allowOnly(spec, at: stepAt + "." + kind, known: ["profile", "relation", "field", "by"])
                    guard let target, let field, let by = (spec["by"] ?? .int(1)).intValue, (1...1_000_000_000).contains(by) else {
                        problem(stepAt, "\(kind) needs {profile: field} or {relation: field, field: name}, and by: 1 to 1000000000")
                        continue
                    }
                    hooks[event, default: []].append(.adjust(target, field: field, by: Int64(kind == "increment" ? by : -by)))
                case "set":
                    allowOnly(spec, at: stepAt + ".set", known: ["profile", "relation", "field", "value"])
                    guard let target, let field, let value = spec["value"] else {
                        problem(stepAt, "set needs {profile: field} or {relation: field, field: name}, and value")
                        continue
                    }
                    hooks[event, default: []].append(.set(target, field: field, value: value))
                case "create":
                    allowOnly(spec, at: stepAt + ".create", known: ["collection", "record"])
                    guard let collection = spec["collection"]?.stringValue, let record = spec["record"]?.objectValue else {
                        problem(stepAt, "create needs {collection: name, record: {field: value}}")
                        continue
                    }
                    hooks[event, default: []].append(.create(collection: collection, values: record))
                case "webhook":
                    allowOnly(spec, at: stepAt + ".webhook", known: ["url", "secret_env"])
                    let url = spec["url"]?.stringValue ?? ""
                    guard url.hasPrefix("https://") || url.hasPrefix("http://"), StringFormat.uri.accepts(url) else {
                        problem(stepAt, "webhook needs {url: https://..., secret_env: NAME_OF_AN_ENVIRONMENT_VARIABLE}")
                        continue
                    }
                    let secret = spec["secret_env"]?.stringValue
                    if spec["secret_env"] != nil, secret.map({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") } }) != true {
                        problem(stepAt + ".webhook.secret_env", "names an environment variable (A-Z, 0-9, _)")
                    }
                    hooks[event, default: []].append(.webhook(url: url, secretEnv: secret))
                default:
                    problem(stepAt, "\(kind) is not a step (increment, decrement, set, create)")
                }
            }
        }
        return hooks
    }

    /// A hook names fields that exist, of a type its step can change, and values its field's schema accepts.
    mutating func checkHook(_ action: HookAction, in collection: CollectionSpec, collections: [CollectionSpec], profile: CollectionSpec?,
                            at: String) {
        func target(_ target: HookTarget) -> CollectionSpec? {
            switch target {
            case .profile:
                if profile == nil { problem(at, "the blueprint has no profile fields") }
                return profile
            case .relation(let name):
                guard let relation = collection.relations.first(where: { $0.field == name }) else {
                    problem(at, "\(name) is not a relation of \(collection.name)")
                    return nil
                }
                return collections.first { $0.name == relation.collection }
            }
        }
        switch action {
        case .adjust(let where_, let name, _):
            guard let spec = target(where_) else { return }
            if spec.field(name)?.kind != .integer { problem(at, "\(name) is not a whole-number field of \(spec.name)") }
        case .set(let where_, let name, let value):
            guard let spec = target(where_) else { return }
            guard let field = spec.field(name) else { return problem(at, "\(name) is not a field of \(spec.name)") }
            if !HookValues.isTemplate(value) {
                for violation in JSONSchema.validate(value, against: field.schema) { problem(at, "the value \(violation.message)") }
            }
        case .webhook:
            break
        case .create(let name, let values):
            guard let spec = collections.first(where: { $0.name == name }) else { return problem(at, "there is no collection \(name)") }
            if spec.owner != .user { problem(at, "hooks create records in user-owned collections only") }
            for key in values.keys.sorted() where spec.field(key) == nil { problem(at, "\(key) is not a field of \(name)") }
        }
    }

    /// `relations: {plan_id: {collection: plans, on_delete: set_null}}`: each field a text field of its collection.
    mutating func relations(_ value: JSONValue?, fields: [String: Field], at: String) -> [Relation] {
        guard let value else { return [] }
        guard case .object(let declared) = value else {
            problem(at, "must map fields to {collection, on_delete}")
            return []
        }
        var relations: [Relation] = []
        for name in declared.keys.sorted() {
            let spec = declared[name]?.objectValue ?? [:]
            allowOnly(spec, at: at + "." + name, known: ["collection", "on_delete"])
            guard let field = fields[name], field.kind == .text else {
                problem(at + "." + name, "\(name) must be a text field of the collection (it holds the other record's id)")
                continue
            }
            guard let target = spec["collection"]?.stringValue else {
                problem(at + "." + name, "names the collection it points at: {collection: ...}")
                continue
            }
            var onDelete = Relation.OnDelete.restrict
            if let raw = spec["on_delete"] {
                if let parsed = raw.stringValue.flatMap(Relation.OnDelete.init(rawValue:)) { onDelete = parsed }
                else { problem(at + "." + name + ".on_delete", "must be one of cascade, set_null, restrict") }
            }
            if onDelete == .setNull, !field.nullable { problem(at + "." + name + ".on_delete", "set_null needs a nullable field") }
            relations.append(Relation(field: name, collection: target, onDelete: onDelete))
        }
        return relations
    }

    /// Top-level `routes: {auth.signup: POST /auth/register}`: platform operations at the app's own paths (which
    /// operations exist is the contract's business: serve checks the names).
    mutating func platformAliases(_ value: JSONValue?) -> [PlatformAlias] {
        guard let value else { return [] }
        guard case .object(let routes) = value else {
            problem("routes", "must map platform operations (auth.signup, auth.login, auth.me...) to \"METHOD /path\"")
            return []
        }
        var aliases: [PlatformAlias] = []
        for name in routes.keys.sorted() {
            let parts = routes[name]?.stringValue?.split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
            let target = parts.count == 2 ? parts[1].split(separator: "?", maxSplits: 1).map(String.init) : []
            let segments = target.first?.split(separator: "/", omittingEmptySubsequences: false).dropFirst() ?? []
            let plain = "/" + segments.map { $0.hasPrefix("{") ? "x" : String($0) }.joined(separator: "/")
            let parameters = segments.filter { $0.hasPrefix("{") }
            let query = target.count == 2 ? Self.fixedQuery(target[1]) : []
            guard parts.count == 2, ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(parts[0]), parts[1].hasPrefix("/"), Self.isPath(plain),
                  parameters.allSatisfy({ $0.hasSuffix("}") && Names.isIdentifier(String($0.dropFirst().dropLast()), maxLength: 40) }),
                  let query else {
                problem("routes." + name, "must be \"METHOD /path\": its {parameters} standing for the platform path's, in order, "
                        + "and an optional fixed query (?include=messages)")
                continue
            }
            aliases.append(PlatformAlias(operation: name, method: parts[0], path: target[0], query: query))
        }
        return aliases
    }

    /// `include=messages&x=1` as its names and values, or nil when it is not such a query: names are identifiers,
    /// values plain words (nothing to escape), at most 8 of them.
    static func fixedQuery(_ query: String) -> [(name: String, value: String)]? {
        let items = query.split(separator: "&", omittingEmptySubsequences: false)
        guard !items.isEmpty, items.count <= 8 else { return nil }
        var pairs: [(name: String, value: String)] = []
        for item in items {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, Names.isIdentifier(String(pair[0]), maxLength: 40), !pair[1].isEmpty, pair[1].count <= 100,
                  pair[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.,".contains($0)) }) else { return nil }
            pairs.append((String(pair[0]), String(pair[1])))
        }
        return pairs
    }

    /// `routes: {create: POST /workouts/log, get: GET /plans/{plan_id}}`.
    mutating func aliases(_ value: JSONValue?, at: String) -> [RouteAlias] {
        guard let value else { return [] }
        guard case .object(let routes) = value else {
            problem(at, "must map operations (\(CollectionOperation.allCases.map(\.rawValue).joined(separator: ", "))) to \"METHOD /path\"")
            return []
        }
        allowOnly(routes, at: at, known: Set(CollectionOperation.allCases.map(\.rawValue)))
        var aliases: [RouteAlias] = []
        for operation in CollectionOperation.allCases {
            guard let route = routes[operation.rawValue] else { continue }
            let parts = route.stringValue?.split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
            let methods: Set = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            guard parts.count == 2, methods.contains(parts[0]) else {
                problem("\(at).\(operation.rawValue)", "must be \"METHOD /path\" with METHOD one of GET, POST, PUT, PATCH, DELETE")
                continue
            }
            let segments = parts[1].split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            let parameters = segments.filter { $0.hasPrefix("{") && $0.hasSuffix("}") && $0.count > 2 }.map { String($0.dropFirst().dropLast()) }
            let plain = "/" + segments.map { $0.hasPrefix("{") ? "x" : String($0) }.joined(separator: "/")
            guard parts[1].hasPrefix("/"), Self.isPath(plain), parameters.allSatisfy({ Names.isIdentifier($0, maxLength: 40) }),
                  parameters.count == (operation.isItem ? 1 : 0) else {
                problem("\(at).\(operation.rawValue)", operation.isItem
                        ? "the path must name the record's id with one {parameter} segment"
                        : "the path is a path like /workouts/log, without {parameters}")
                continue
            }
            aliases.append(RouteAlias(operation: operation, method: parts[0], path: parts[1], parameter: parameters.first))
        }
        return aliases
    }

    /// A rule must parse and name only the collection's fields; it is compiled for real with each request.
    mutating func checkRule(_ text: String, _ collection: CollectionSpec, body: Bool, at: String) {
        var auth: [String: JSONValue] = ["id": "", "role": "user", "tier": ""]
        // A value of each profile field's type, so that a rule comparing it with a field of another type is caught.
        for field in profileFields {
            auth["profile." + field.name] = switch field.kind {
            case .text: ""
            case .integer: 0
            case .number: 0.5
            case .boolean: false
            case .json: .null
            }
        }
        let context = FilterContext(nowMillis: 0, auth: auth, body: body ? [:] : nil, flags: flags)
        do {
            let expression = try FilterParser.parse(text, context: context)
            _ = try FilterSQL(collection: collection, engine: .sqlite).condition(expression)
        } catch let error as FilterSyntaxError {
            problem(at, "the rule \(error.message)")
        } catch {
            problem(at, "the rule is not valid: " + ((error as? AppError)?.fieldErrors.first?.message ?? "\(error)"))
        }
    }
}
