import Core
import Foundation
import LLM

/// Reads `blueprint.yaml` from a directory and checks all of it, reporting every problem at once with its line
/// (`switchboard blueprint check` prints exactly this).
public enum BlueprintLoader {
    public static let fileName = "blueprint.yaml"

    public static func load(directory: String) throws(BlueprintError) -> Blueprint {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw BlueprintError(["\(path): cannot read the file"])
        }
        return try parse(yaml: text, directory: directory)
    }

    public static func parse(yaml: String, directory: String) throws(BlueprintError) -> Blueprint {
        let tree: YAMLTree
        do {
            tree = try YAMLTree(yaml: yaml)
        } catch {
            throw BlueprintError(error.problems.map { "\(fileName): \($0)" })
        }
        var checker = Checker(tree: tree, directory: directory)
        let blueprint = checker.blueprint()
        if !checker.problems.isEmpty {
            // In the order of the file, as an editor shows them.
            throw BlueprintError(checker.problems.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
                .map(\.element.message))
        }
        return blueprint!
    }
}

/// Names that become SQL identifiers: checked here so that quoting them is a formality.
enum Names {
    static func isIdentifier(_ name: String, maxLength: Int) -> Bool {
        name.isLowercaseIdentifier(maxLength: maxLength)
    }

    /// A JSON field of an app's own contract (never SQL): camelCase is as welcome as snake_case.
    static func isFieldName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first), name.utf8.count <= 60 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

struct Checker {
    let tree: YAMLTree
    let directory: String
    var problems: [(line: Int, message: String)] = []
    /// The profile's fields, which rules may read as `@auth.profile.<field>`.
    var profileFields: [Field] = []
    /// The app's flags and their defaults, which rules may read as `@flag.<name>`.
    var flags: [String: Bool] = [:]
    /// The flags frontends may read (`GET /api/v1/app`).
    var publicFlags: Set<String> = []

    mutating func problem(_ path: String, _ message: String) {
        let line = tree.line(path)
        problems.append((line ?? 0, "\(BlueprintLoader.fileName)\(line.map { ":\($0)" } ?? ""): \(path.isEmpty ? "" : path + ": ")\(message)"))
    }

    mutating func blueprint() -> Blueprint? {
        guard case .object(let root) = tree.root else {
            problem("", "the file must be a mapping with `blueprint: 1`, `app` and `collections`")
            return nil
        }
        allowOnly(root, at: "", known: ["blueprint", "app", "collections", "profile", "routes", "tiers", "flags", "agents", "chat_routes", "router", "pipelines",
                                         "client_tools", "plans", "models", "client_storage", "config"])
        if root["blueprint"] != .int(1) { problem("blueprint", "must be 1 (the version of this format)") }
        let app = root["app"]?.objectValue ?? [:]
        if root["app"]?.objectValue == nil { problem("app", "is required: {name, title, prefix}") }
        allowOnly(app, at: "app", known: ["name", "title", "prefix", "sanitize", "token_expiry"])
        if let expiry = app["token_expiry"], !["epoch_seconds", "rfc3339"].contains(expiry.stringValue ?? "") {
            problem("app.token_expiry", "must be rfc3339 (the platform's) or epoch_seconds")
        }
        if let value = app["sanitize"], value.boolValue == nil { problem("app.sanitize", "must be true or false") }
        let name = app["name"]?.stringValue ?? ""
        if !Names.isIdentifier(name, maxLength: 24) {
            problem("app.name", "must be 1 to 24 lowercase letters, digits or _, starting with a letter")
        }
        let title = app["title"].flatMap { $0.stringValue } ?? name
        let prefix = app["prefix"]?.stringValue ?? "/api/v1"
        if !(prefix.isEmpty || Self.isPath(prefix)) { problem("app.prefix", "must be a path like /api/v1 (or empty)") }

        var profile: CollectionSpec?
        if let declared = root["profile"] {
            if declared.objectValue == nil { problem("profile", "must map field names to schemas") }
            let fields = self.fields(.object(["type": "object", "properties": declared]), at: "profile")
            profile = CollectionSpec(name: "profile", path: "/profile", owner: .user, schema: .object(["type": "object", "properties": declared]),
                                     fields: fields, search: [], indexes: [], seed: nil, feature: nil, rules: [:], aliases: [], relations: [],
                                     hooks: [:], table: "app_\(name)__profile")
        }
        profileFields = profile?.fields ?? []
        flags = flags(root["flags"])
        var collections: [CollectionSpec] = []
        var paths: [String: String] = [:]
        let declared = root["collections"]?.objectValue ?? [:]
        if root["collections"] != nil, root["collections"]?.objectValue == nil { problem("collections", "must be a mapping of names to collections") }
        for key in inFileOrder(declared, at: "collections") {
            guard let collection = collection(key, declared[key]!, app: name) else { continue }
            if let other = paths[collection.path] {
                problem("collections.\(key).path", "\(collection.path) is already the path of \(other)")
            }
            paths[collection.path] = key
            collections.append(collection)
        }
        if profile != nil, let taken = paths["/profile"] {
            problem("collections.\(taken).path", "/profile is the path of the app's profile")
        }
        let names = Set(collections.map(\.name))
        for collection in collections {
            for relation in collection.relations where !names.contains(relation.collection) {
                problem("collections.\(collection.name).relations.\(relation.field).collection", "there is no collection \(relation.collection)")
            }
            for (event, actions) in collection.hooks {
                for (index, action) in actions.enumerated() {
                    checkHook(action, in: collection, collections: collections, profile: profile,
                              at: "collections.\(collection.name).hooks.\(event.rawValue).\(index)")
                }
            }
        }
        let agents = agents(root["agents"], collections: collections, sanitize: app["sanitize"]?.boolValue ?? false)
        // Chat routes may not take a method and path the app's collections serve.
        let taken = Set(collections.flatMap { collection in
            ["POST " + collection.path, "PUT " + collection.path] + collection.aliases.map { $0.method + " " + $0.path }
        })
        var blueprint = Blueprint(directory: directory, name: name, title: title, prefix: prefix, collections: collections,
                                  platformAliases: platformAliases(root["routes"]), profile: profile, configuration: tierConfiguration(root["tiers"]).merging(modelConfiguration(root["models"])) { $1 }
                                      .merging(settingsConfiguration(root["config"])) { $1 },
                                  flags: flags, publicFlags: publicFlags, agents: agents, router: router(root["router"], agents: agents),
                                  pipelines: pipelines(root["pipelines"], agents: agents),
                                  chatRoutes: chatRoutes(root["chat_routes"], taken: taken))
        blueprint.clientTools = clientTools(root["client_tools"], collections: collections)
        blueprint.epochTokenExpiry = app["token_expiry"]?.stringValue == "epoch_seconds"
        if let storage = root["client_storage"] {
            if let flag = storage.boolValue { blueprint.clientStorage = flag } else { problem("client_storage", "must be true or false") }
        }
        let actionTables = blueprint.clientTools.compactMap { tool in if case .action(_, let table?, _) = tool.source { table } else { nil } }
        blueprint.plans = planBook(root["plans"], agents: Set(agents.map(\.name) + blueprint.pipelines.map(\.name) + (blueprint.router.map { _ in [BlueprintRouter.name] } ?? [])),
                                   tables: Set(collections.map(\.name) + actionTables))
        for (index, route) in blueprint.chatRoutes.enumerated() {
            if let field = route.field(for: .mode), blueprint.plans == nil {
                problem("chat_routes.\(index).request.\(field)", "plan mode needs the app's plans: (templates and playbooks)")
            }
            // What the answer's JSON holds can be mapped only from an agent that answers in JSON, by its properties.
            let output = agents.first { $0.name == route.agent }?.output
            for (field, name) in route.outputFields.sorted(by: { $0.key < $1.key }) where output?["properties"]?[name] == nil {
                problem("chat_routes.\(index).response.\(field)", output == nil ? "output.\(name): the agent \(route.agent) has no output: schema"
                        : "output.\(name) is not a property of the agent's output: schema")
            }
            if output == nil, let field = route.response.first(where: { $0.value == .output })?.key {
                problem("chat_routes.\(index).response.\(field)", "output: the agent \(route.agent) has no output: schema")
            }
        }
        return blueprint
    }

    mutating func collection(_ name: String, _ value: JSONValue, app: String) -> CollectionSpec? {
        let at = "collections.\(name)"
        guard case .object(let spec) = value else {
            problem(at, "must be a mapping with at least a schema")
            return nil
        }
        allowOnly(spec, at: at, known: ["path", "owner", "schema", "search", "indexes", "seed", "feature", "description", "rules", "routes", "relations",
                                        "hooks", "query"])
        if !Names.isIdentifier(name, maxLength: 30) {
            problem(at, "a collection's name must be 1 to 30 lowercase letters, digits or _, starting with a letter")
        }
        let path = spec["path"]?.stringValue ?? "/" + name
        if !Self.isPath(path) { problem(at + ".path", "must be a path like /\(name): lowercase letters, digits, - and _ between slashes") }
        var owner = Ownership.user
        if let raw = spec["owner"] {
            if let parsed = raw.stringValue.flatMap(Ownership.init(rawValue:)) {
                owner = parsed
            } else {
                problem(at + ".owner", "must be user, team or shared")
            }
        }
        let fields = self.fields(spec["schema"], at: at + ".schema")
        let byName = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
        var search: [String] = []
        for (index, field) in strings(spec["search"], at: at + ".search").enumerated() {
            if byName[field]?.kind != .text { problem("\(at).search.\(index)", "\(field) is not a text field of \(name)") }
            else if byName[field]?.readRule != nil { problem("\(at).search.\(index)", "\(field) has a read rule: it cannot be searched") }
            else { search.append(field) }
        }
        var indexes: [[String]] = []
        for (index, entry) in (spec["indexes"]?.arrayValue ?? []).enumerated() {
            let columns = strings(entry, at: "\(at).indexes.\(index)")
            for column in columns where byName[column] == nil && SystemField(rawValue: column) == nil {
                problem("\(at).indexes.\(index)", "\(column) is not a field of \(name)")
            }
            if columns.isEmpty || columns.count > 8 { problem("\(at).indexes.\(index)", "an index names 1 to 8 fields") }
            indexes.append(columns)
        }
        if let indexes = spec["indexes"], indexes.arrayValue == nil { problem(at + ".indexes", "must be a list of field lists") }
        var seed: String?
        if let file = spec["seed"], owner == .team {
            problem(at + ".seed", "team-owned collections have no seed: their records belong to teams created at run time (\(file.stringValue ?? ""))")
        } else if let file = spec["seed"] {
            if let file = file.stringValue, !file.hasPrefix("/"), !file.split(separator: "/").contains("..") {
                if FileManager.default.fileExists(atPath: directory + "/" + file) { seed = file }
                else { problem(at + ".seed", "\(file) does not exist in \(directory)") }
            } else {
                problem(at + ".seed", "must be a file inside the blueprint's directory")
            }
        }
        let feature = spec["feature"]?.stringValue
        if spec["feature"] != nil, feature == nil { problem(at + ".feature", "must be the name of a tier feature") }
        var rules: [Rule: String] = [:]
        if let declared = spec["rules"] {
            let object = declared.objectValue ?? [:]
            if declared.objectValue == nil { problem(at + ".rules", "must map operations (list, view, create, update, delete) to rules") }
            allowOnly(object, at: at + ".rules", known: Set(Rule.allCases.map(\.rawValue)))
            for rule in Rule.allCases {
                guard let value = object[rule.rawValue] else { continue }
                if let text = value.stringValue { rules[rule] = text } else { problem("\(at).rules.\(rule.rawValue)", "must be a rule (text)") }
            }
        }
        var collection = CollectionSpec(name: name, path: path, owner: owner, schema: spec["schema"] ?? .null, fields: fields, search: search,
                                        indexes: indexes, seed: seed, feature: feature, rules: rules, aliases: aliases(spec["routes"], at: at + ".routes"),
                                        relations: relations(spec["relations"], fields: byName, at: at + ".relations"),
                                        hooks: hooks(spec["hooks"], at: at + ".hooks"),
                                        table: "app_\(app)_\(name)")
        collection.queryFilters = queryFilters(spec["query"], collection, at: at + ".query")
        for (rule, text) in rules { checkRule(text, collection, body: rule.writes, at: "\(at).rules.\(rule.rawValue)") }
        for field in fields {
            if let text = field.readRule { checkRule(text, collection, body: false, at: "\(at).schema.properties.\(field.name).read") }
            if let text = field.writeRule { checkRule(text, collection, body: true, at: "\(at).schema.properties.\(field.name).write") }
        }
        return collection
    }

    /// `query: {muscle_group: "muscle_group = @query", search: q}`: list parameters in the app's names.
    mutating func queryFilters(_ value: JSONValue?, _ collection: CollectionSpec, at: String) -> [QueryFilter] {
        guard let value else { return [] }
        guard case .object(let declared) = value, declared.count <= 20 else {
            problem(at, "must map up to 20 query parameters to a filter over @query (\"status = @query\") or to q")
            return []
        }
        var filters: [QueryFilter] = []
        for name in inFileOrder(declared, at: at) {
            guard Names.isIdentifier(name, maxLength: 40), !ListQuery.parameters.contains(name) else {
                problem("\(at).\(name)", "must be a lowercase name that is not one of \(ListQuery.parameters.sorted().joined(separator: ", "))")
                continue
            }
            guard let text = declared[name]?.stringValue else {
                problem("\(at).\(name)", "must be a filter over @query, or q")
                continue
            }
            if text == "q" {
                if collection.search.isEmpty { problem("\(at).\(name)", "q searches the fields under search:, and \(collection.name) has none") }
                filters.append(QueryFilter(name: name, filter: nil))
                continue
            }
            do {
                let expression = try FilterParser.parse(text, context: FilterContext(nowMillis: 0, auth: [:], query: .string("")))
                for field in expression.fields.sorted() where collection.field(field) == nil && SystemField(rawValue: field) == nil {
                    problem("\(at).\(name)", "\(field) is not a field of \(collection.name)")
                }
                if !text.contains("@query") { problem("\(at).\(name)", "must use the parameter's value, @query") }
                filters.append(QueryFilter(name: name, filter: text))
            } catch {
                problem("\(at).\(name)", "the filter \(error.message)")
            }
        }
        return filters
    }

    mutating func fields(_ schema: JSONValue?, at: String) -> [Field] {
        guard case .object(let object)? = schema, object["type"] == "object", case .object(let properties)? = object["properties"] else {
            problem(at, "must be an object schema: {type: object, properties: {...}}")
            return []
        }
        if let additional = object["additionalProperties"], additional != false {
            problem(at + ".additionalProperties", "a collection refuses unknown fields: leave it out or set it to false")
        }
        let required = Set(strings(object["required"], at: at + ".required"))
        for name in required where properties[name] == nil { problem(at + ".required", "\(name) is not a property") }
        var fields: [Field] = []
        for name in properties.keys.sorted() {
            let fieldAt = at + ".properties." + name
            guard Names.isIdentifier(name, maxLength: 60), SystemField(rawValue: name) == nil else {
                problem(fieldAt, SystemField(rawValue: name) != nil
                        ? "\(name) is a column every record has; choose another name"
                        : "field names are 1 to 60 lowercase letters, digits or _, starting with a letter")
                continue
            }
            guard case .object(let rules) = properties[name]! else {
                problem(fieldAt, "must be a schema (a mapping)")
                continue
            }
            fields.append(field(name, rules, required: required.contains(name), at: fieldAt))
        }
        return fields
    }

    mutating func field(_ name: String, _ rules: [String: JSONValue], required: Bool, at: String) -> Field {
        var types = rules["type"].map { $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue ?? "?"] } ?? []
        let known: Set = ["string", "integer", "number", "boolean", "object", "array", "null"]
        for type in types where !known.contains(type) { problem(at + ".type", "\(type) is not a JSON Schema type") }
        if types.isEmpty, let options = rules["enum"]?.arrayValue {
            // An enum without a type: the type of its values.
            types = Array(Set(options.map { value -> String in
                switch value {
                case .string: "string"
                case .int: "integer"
                case .double: "number"
                case .bool: "boolean"
                case .null: "null"
                case .array: "array"
                case .object: "object"
                }
            }))
        }
        let nullable = types.contains("null")
        let stored = Set(types).subtracting(["null"])
        let kind: Field.Kind = switch stored.count == 1 ? stored.first! : "" {
        case "string": .text
        case "integer": .integer
        case "number": .number
        case "boolean": .boolean
        default: .json
        }
        if types.isEmpty { problem(at, "needs a type (or an enum)") }
        if let format = rules["format"] {
            if format.stringValue.flatMap(StringFormat.init(rawValue:)) == nil {
                problem(at + ".format", "must be one of \(StringFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        if let pattern = rules["pattern"], pattern.stringValue.flatMap(Patterns.compiled) == nil {
            problem(at + ".pattern", "is not a regular expression")
        }
        for flag in ["readonly", "immutable", "hidden"] where rules[flag] != nil && rules[flag]?.boolValue == nil {
            problem(at + "." + flag, "must be true or false")
        }
        for keyword in ["read", "write"] where rules[keyword] != nil && rules[keyword]?.stringValue == nil {
            problem(at + "." + keyword, "must be a rule (text)")
        }
        let defaultValue = rules["default"]
        if let defaultValue {
            for violation in JSONSchema.validate(defaultValue, against: .object(rules)) {
                problem(at + ".default", "the default \(violation.message)")
            }
        }
        let readonly = rules["readonly"]?.boolValue ?? false
        if readonly, required, defaultValue == nil {
            problem(at, "a readonly field that is required needs a default: clients cannot set it")
        }
        for key in ["items", "properties"] where rules[key] != nil && kind != .json {
            problem(at + "." + key, "only objects and arrays have \(key)")
        }
        return Field(name: name, kind: kind, schema: .object(rules), nullable: nullable, required: required,
                     defaultValue: defaultValue, readonly: readonly, immutable: rules["immutable"]?.boolValue ?? false,
                     hidden: rules["hidden"]?.boolValue ?? false, readRule: rules["read"]?.stringValue,
                     writeRule: rules["write"]?.stringValue)
    }

    /// `flags: {ai: {default: true, public: true, description: ...}}`: switches an operator sets with `flags.<name>`;
    /// public ones are shown to frontends.
    mutating func flags(_ value: JSONValue?) -> [String: Bool] {
        guard let value else { return [:] }
        guard case .object(let declared) = value else {
            problem("flags", "must map flag names to {default: true|false}")
            return [:]
        }
        var flags: [String: Bool] = [:]
        for (name, spec) in declared {
            let at = "flags." + name
            guard Names.isIdentifier(name, maxLength: 40) else {
                problem(at, "a flag's name must be lowercase letters, digits or _, starting with a letter")
                continue
            }
            allowOnly(spec.objectValue ?? [:], at: at, known: ["default", "description", "public"])
            if let shown = spec["public"] {
                if shown.boolValue == nil { problem(at + ".public", "must be true or false") }
                if shown.boolValue == true { publicFlags.insert(name) }
            }
            guard let initial = spec["default"]?.boolValue else {
                problem(at, "needs default: true or false")
                continue
            }
            flags[name] = initial
        }
        return flags
    }

    /// A mapping's keys in the order the file writes them (a YAML mapping's own order is lost in a dictionary); keys
    /// on one line (a flow mapping) by name, so that every load reads them in the same order.
    func inFileOrder(_ object: [String: JSONValue], at: String) -> [String] {
        object.keys.map { (line: tree.line(at + "." + $0) ?? 0, key: $0) }.sorted { ($0.line, $0.key) < ($1.line, $1.key) }.map(\.key)
    }

    mutating func strings(_ value: JSONValue?, at: String) -> [String] {
        guard let value else { return [] }
        guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
            problem(at, "must be a list of names")
            return []
        }
        return items.compactMap(\.stringValue)
    }

    mutating func allowOnly(_ object: [String: JSONValue], at: String, known: Set<String>) {
        for key in object.keys.sorted() where !known.contains(key) {
            problem(YAMLTree.join(at, key), "is not a known key here (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    static func isPath(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return path.hasPrefix("/") && segments.count >= 2 && segments.dropFirst().allSatisfy { segment in
            !segment.isEmpty && segment.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
        }
    }
}
