import LLM

/// The OpenAPI paths and schemas of a blueprint's collections, merged into the served `/openapi.json` so that
/// clients generate from them and the contract fuzzer covers them like every platform route.
public enum CollectionContract {
    public struct Part: Sendable {
        public var paths: [String: JSONValue] = [:]
        public var schemas: [String: JSONValue] = [:]
    }

    public static func part(for blueprint: Blueprint) -> Part {
        var part = Part()
        for collection in blueprint.collections {
            let base = camel(blueprint.name) + camel(collection.name)
            let ref = { (name: String) -> JSONValue in ["$ref": .string("#/components/schemas/\(base)\(name)")] }
            part.schemas[base + "Record"] = record(collection)
            part.schemas[base + "Input"] = input(collection, patch: false)
            part.schemas[base + "Patch"] = input(collection, patch: true)
            // A team-owned record is created in a team, named once.
            let create = collection.owner == .team ? "Create" : "Input"
            if collection.owner == .team { part.schemas[base + "Create"] = input(collection, patch: false, team: true) }
            part.schemas[base + "Page"] = [
                "type": "object", "required": ["items", "total", "page", "per_page"],
                "properties": ["items": ["type": "array", "items": ref("Record")], "total": ["type": "integer"],
                               "page": ["type": "integer"], "per_page": ["type": "integer"]],
            ]
            let tags: JSONValue = [.string(blueprint.title)]
            let path = blueprint.prefix + collection.path
            let json = { (schema: JSONValue) -> JSONValue in ["application/json": ["schema": schema]] }
            let problem: JSONValue = ["$ref": "#/components/responses/Problem"]
            let idParameter: JSONValue = ["name": "id", "in": "path", "required": true, "schema": ["type": "string", "format": "uuid"]]
            let name = camel(collection.name)
            part.paths[path] = [
                "get": [
                    "operationId": .string("list\(base)"), "tags": tags, "summary": .string("List \(collection.name)"),
                    "parameters": .array(listParameters(collection)),
                    "responses": ["200": ["description": "A page of records.", "content": json(ref("Page"))], "default": problem],
                ],
                "post": [
                    "operationId": .string("create\(base)"), "tags": tags, "summary": .string("Create a record in \(collection.name)"),
                    "requestBody": ["required": true, "content": json(ref(create))],
                    "responses": ["201": ["description": "The new record.", "content": json(ref("Record"))], "default": problem],
                ],
            ]
            part.paths[path + "/{id}"] = [
                "parameters": [idParameter],
                "get": ["operationId": .string("get\(base)"), "tags": tags, "summary": .string("One record of \(collection.name)"),
                        "parameters": [["name": "fields", "in": "query", "required": false, "schema": ["type": "string", "maxLength": 2000]],
                                       expandParameter],
                        "responses": ["200": ["description": "The record.", "content": json(ref("Record"))], "default": problem]],
                "put": ["operationId": .string("replace\(base)"), "tags": tags, "summary": .string("Replace a record of \(collection.name)"),
                        "requestBody": ["required": true, "content": json(ref("Input"))],
                        "responses": ["200": ["description": "The record.", "content": json(ref("Record"))], "default": problem]],
                "patch": ["operationId": .string("update\(base)"), "tags": tags, "summary": .string("Change fields of a record of \(collection.name)"),
                          "requestBody": ["required": true, "content": json(ref("Patch"))],
                          "responses": ["200": ["description": "The record.", "content": json(ref("Record"))], "default": problem]],
                "delete": ["operationId": .string("delete\(base)"), "tags": tags, "summary": .string("Delete a record of \(collection.name)"),
                           "responses": ["204": ["description": "Deleted."], "default": problem]],
            ]
            part.paths[path + "/events"] = [
                "get": [
                    "operationId": .string("events\(base)"), "tags": tags,
                    "summary": .string("Changes to \(collection.name) as server-sent events"),
                    "description": "`ready` once subscribed; then `created` and `updated` (the record), `deleted` and `left` (`{id}`: an update moved it out of what you see), for the records you may see that pass the filter.",
                    "parameters": [filterParameter],
                    "responses": ["200": ["description": "The stream.", "content": ["text/event-stream": ["schema": ["type": "string"]]]],
                                  "default": problem],
                ],
            ]
            part.paths[path + "/aggregate"] = [
                "get": [
                    "operationId": .string("aggregate\(base)"), "tags": tags, "summary": .string("Count, sum, average, min or max over \(name)"),
                    "parameters": [
                        ["name": "op", "in": "query", "required": false,
                         "schema": ["type": "string", "enum": ["count", "sum", "avg", "min", "max"], "default": "count"]],
                        ["name": "field", "in": "query", "required": false, "schema": ["type": "string", "maxLength": 60]],
                        ["name": "group_by", "in": "query", "required": false, "schema": ["type": "string", "maxLength": 200]],
                        filterParameter,
                    ],
                    "responses": ["200": ["description": "One value per group.", "content": json(aggregateSchema)], "default": problem],
                ],
            ]
            // Aliases: the same operation, described again at the app's own method and path.
            for (index, alias) in collection.aliases.enumerated() {
                let (source, method) = Self.source(alias.operation)
                let sourcePath = path + (alias.operation.isItem ? "/{id}" : alias.operation == .aggregate ? "/aggregate" : "")
                guard case .object(var operation)? = part.paths[sourcePath]?[method] else { continue }
                operation["operationId"] = .string("\(source)\(base)Alias\(index + 1)")
                var item = part.paths[blueprint.prefix + alias.path]?.objectValue ?? [:]
                if let parameter = alias.parameter {
                    item["parameters"] = [["name": .string(parameter), "in": "path", "required": true, "schema": ["type": "string", "format": "uuid"]]]
                }
                item[alias.method.lowercased()] = .object(operation)
                part.paths[blueprint.prefix + alias.path] = .object(item)
            }
        }
        if let profile = blueprint.profile {
            let base = camel(blueprint.name) + "Profile"
            part.schemas[base + "Record"] = record(profile)
            part.schemas[base + "Patch"] = input(profile, patch: true)
            let problem: JSONValue = ["$ref": "#/components/responses/Problem"]
            let record: JSONValue = ["application/json": ["schema": ["$ref": .string("#/components/schemas/\(base)Record")]]]
            part.paths[blueprint.prefix + profile.path] = [
                "get": ["operationId": .string("get\(base)"), "tags": [.string(blueprint.title)], "summary": "The caller's profile in this app",
                        "responses": ["200": ["description": "The profile.", "content": record], "default": problem]],
                "patch": ["operationId": .string("update\(base)"), "tags": [.string(blueprint.title)], "summary": "Change the caller's profile",
                          "requestBody": ["required": true, "content": ["application/json": ["schema": ["$ref": .string("#/components/schemas/\(base)Patch")]]]],
                          "responses": ["200": ["description": "The profile.", "content": record], "default": problem]],
            ]
        }
        ChatRouteContract.add(blueprint, to: &part)
        PlanContract.add(blueprint, to: &part)
        ClientStorageContract.add(blueprint, to: &part)
        return part
    }

    /// The operation id's verb and the method of an operation's own route.
    static func source(_ operation: CollectionOperation) -> (String, String) {
        switch operation {
        case .list: ("list", "get")
        case .create: ("create", "post")
        case .get: ("get", "get")
        case .replace: ("replace", "put")
        case .update: ("update", "patch")
        case .delete: ("delete", "delete")
        case .aggregate: ("aggregate", "get")
        }
    }

    static let filterParameter: JSONValue = [
        "name": "filter", "in": "query", "required": false,
        "description": "An expression such as `status = 'open' && due < @now`: = != > >= < <= ~ (contains) !~ in !in, && || ( ), null.",
        "schema": ["type": "string", "maxLength": .int(Int64(FilterParser.maxLength))],
    ]

    static let expandParameter: JSONValue = [
        "name": "expand", "in": "query", "required": false,
        "description": "Relation fields, comma-separated: the records they point at, under `expand`.",
        "schema": ["type": "string", "maxLength": 2000],
    ]

    static func listParameters(_ collection: CollectionSpec) -> [JSONValue] {
        var parameters: [JSONValue] = [
            ["name": "page", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1]],
            ["name": "per_page", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1, "maximum": 100, "default": 20]],
            filterParameter,
            ["name": "sort", "in": "query", "required": false, "description": "Fields, comma-separated; `-` before a field sorts it descending.",
             "schema": ["type": "string", "maxLength": 300]],
            ["name": "fields", "in": "query", "required": false, "description": "Only these fields, comma-separated.",
             "schema": ["type": "string", "maxLength": 2000]],
            expandParameter,
        ]
        if !collection.search.isEmpty {
            parameters.append(["name": "q", "in": "query", "required": false,
                               "description": .string("Records whose \(collection.search.joined(separator: ", ")) contain this text, ignoring case."),
                               "schema": ["type": "string", "maxLength": 200]])
        }
        for declared in collection.queryFilters {
            let description = declared.filter.map { "Only records where \($0) (`@query` being this value)." } ?? "Another name for `q`."
            parameters.append(["name": .string(declared.name), "in": "query", "required": false, "description": .string(description),
                               "schema": ["type": "string", "maxLength": 200]])
        }
        return parameters
    }

    static let aggregateSchema: JSONValue = [
        "type": "object", "required": ["op", "field", "groups"],
        "properties": [
            "op": ["type": "string"], "field": ["type": ["string", "null"]],
            "groups": ["type": "array", "items": [
                "type": "object", "required": ["group", "value"],
                "properties": ["group": ["type": "object"], "value": [:]],
            ]],
        ],
    ]

    /// A record as returned: its own columns, then the fields that are not hidden. Only `id` is required: `?fields=`
    /// leaves the others out, and a field's read rule can hide it; otherwise every field is there, null where an
    /// optional one was never set.
    public static func record(_ collection: CollectionSpec) -> JSONValue {
        var properties: [String: JSONValue] = [
            "id": ["type": "string", "format": "uuid"],
            "created_at": ["type": "string", "format": "date-time"],
            "updated_at": ["type": "string", "format": "date-time"],
        ]
        if collection.showsSystemField(.ownerID) { properties["owner_id"] = ["type": "string", "format": "uuid"] }
        if collection.showsSystemField(.teamID) { properties["team_id"] = ["type": "string", "format": "uuid"] }
        if !collection.relations.isEmpty {
            properties["expand"] = ["type": "object", "description": "With ?expand=: the records relation fields point at (null: not visible)."]
        }
        for field in collection.fields where !field.hidden {
            properties[field.name] = field.required || field.defaultValue != nil ? described(field) : orNull(described(field))
        }
        return ["type": "object", "required": ["id"], "properties": .object(properties)]
    }

    /// A body: the fields a client may write (never readonly ones); every field optional for PATCH; with `team`, the
    /// team a record is created in too.
    public static func input(_ collection: CollectionSpec, patch: Bool, team: Bool = false) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        var required: [JSONValue] = []
        if team {
            properties["team_id"] = ["type": "string", "format": "uuid", "description": "The team the record belongs to; the caller must be a member."]
            required.append("team_id")
        }
        for field in collection.fields where !field.readonly {
            properties[field.name] = described(field)
            if field.required, !patch, field.defaultValue == nil { required.append(.string(field.name)) }
        }
        var schema: [String: JSONValue] = ["type": "object", "additionalProperties": false, "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required) }
        return .object(schema)
    }

    /// The field's schema without the blueprint-only keywords.
    static func described(_ field: Field) -> JSONValue {
        guard case .object(var schema) = field.schema else { return field.schema }
        for keyword in ["readonly", "immutable", "hidden", "read", "write"] { schema.removeValue(forKey: keyword) }
        if field.readonly { schema["readOnly"] = true }
        return .object(schema)
    }

    static func orNull(_ schema: JSONValue) -> JSONValue {
        guard case .object(var rules) = schema else { return schema }
        if let type = rules["type"] {
            let types = type.arrayValue ?? [type]
            if !types.contains("null") { rules["type"] = .array(types + ["null"]) }
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(.null) { rules["enum"] = .array(options + [.null]) }
        return .object(rules)
    }

    public static func camel(_ name: String) -> String {
        name.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
