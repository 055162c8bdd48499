import LLM

/// The OpenAPI side of plan mode: the ExecutionPlan schema and the playbook routes.
enum PlanContract {
    static func planSchema(_ blueprint: Blueprint) -> String { CollectionContract.camel(blueprint.name) + "ExecutionPlan" }

    static func add(_ blueprint: Blueprint, to part: inout CollectionContract.Part) {
        guard let book = blueprint.plans else { return }
        let plan = planSchema(blueprint)
        let nullableName: JSONValue = ["type": ["string", "null"]]
        part.schemas[plan] = [
            "type": "object", "required": ["agent", "steps"],
            "description": .string("Steps for the app to run in order. A step with a prompt_template is the model's work on that template (by id; "
                + "its text stays on the server) filled with its variables; data_from_step names the earlier step whose result it uses."),
            "properties": [
                "agent": ["type": "string"],
                "steps": ["type": "array", "minItems": 1, "maxItems": .int(Int64(PlanBook.maxSteps)), "items": [
                    "type": "object", "required": ["action", "prompt_template", "variables", "data_from_step"], "properties": [
                        "action": ["type": "object", "required": ["type", "table", "data", "agent"], "properties": [
                            "type": ["type": "string", "enum": .array(PlanBook.actionTypes.map(JSONValue.string))],
                            "table": nullableName, "data": ["type": "object"], "agent": nullableName,
                        ]],
                        "prompt_template": ["type": ["string", "null"], "enum": .array(book.templates.map { .string($0.id) } + [.null])],
                        "variables": ["type": "object"],
                        "data_from_step": ["type": ["integer", "null"], "minimum": 0],
                    ],
                ]],
            ],
        ]
        guard let path = book.playbooksPath else { return }
        let playbook = CollectionContract.camel(blueprint.name) + "Playbook"
        part.schemas[playbook] = ["allOf": [["$ref": .string("#/components/schemas/\(plan)")], [
            "type": "object", "required": ["id", "name", "description"],
            "properties": ["id": ["type": "string"], "name": ["type": "string"], "description": ["type": "string"]],
        ]]]
        let problem: JSONValue = ["$ref": "#/components/responses/Problem"]
        let json = { (schema: JSONValue) -> JSONValue in ["application/json": ["schema": schema]] }
        let tags: JSONValue = [.string(blueprint.title)]
        let base = CollectionContract.camel(blueprint.name)
        part.paths[blueprint.prefix + path] = ["get": [
            "operationId": .string("list\(base)Playbooks"), "tags": tags, "summary": "The playbooks the caller's plan includes",
            "responses": ["200": ["description": "Ready-made plans.", "content": json([
                "type": "object", "required": ["items"],
                "properties": ["items": ["type": "array", "items": ["$ref": .string("#/components/schemas/\(playbook)")]]],
            ])], "default": problem],
        ]]
        part.paths[blueprint.prefix + path + "/{plan_id}"] = [
            "parameters": [["name": "plan_id", "in": "path", "required": true, "schema": ["type": "string", "maxLength": 64]]],
            "get": [
                "operationId": .string("get\(base)Playbook"), "tags": tags, "summary": "One playbook",
                "description": "404 `playbook_not_found` for an id the app does not have; 403 `feature_not_in_plan` for one the caller's plan does not include.",
                "responses": ["200": ["description": "The playbook.", "content": json(["$ref": .string("#/components/schemas/\(playbook)")])],
                              "default": problem],
            ],
        ]
    }
}
