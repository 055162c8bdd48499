import Foundation
import LLM

/// Plan mode (`plans:`): a chat route asked for a plan answers an ExecutionPlan instead of a reply, for the app to
/// run step by step: `{agent, steps: [{action: {type, table, data, agent}, prompt_template, variables,
/// data_from_step}]}`. A step that needs a model's work names one of the blueprint's prompt templates by id, with the
/// variables to fill it: the template's text stays on the server. Playbooks are ready-made plans the app lists,
/// each behind the tier feature `playbook:<id>`.
public struct PlanBook: Sendable {
    public struct Template: Sendable {
        public let id: String
        public let description: String
        public let template: PromptTemplate
        /// The file's text, which the output guard keeps from clients.
        public let text: String
        /// The variables a step must fill, as the template names them.
        public let variables: [String]
    }

    public struct Playbook: Sendable {
        public let id: String
        public let name: String
        public let description: String
        /// The checked ExecutionPlan.
        public let plan: JSONValue

        public var feature: String { "playbook:" + id }
    }

    public static let actionTypes = ["create_record", "update_record", "delete_record", "index_document", "send_notification", "call_agent"]
    /// Actions that change one of the app's tables, which they must name.
    static let recordActions: Set = ["create_record", "update_record", "delete_record"]
    public static let maxSteps = 12
    static let maxVariables = 20

    /// The model that writes plans; nil: the agent's.
    public let model: String?
    /// Where the playbooks are listed (below the app's prefix); nil: not served.
    public let playbooksPath: String?
    public let templates: [Template]
    public let playbooks: [Playbook]
    /// What plans may name: the app's agents (and router and pipelines) and tables (its collections and the tables
    /// of its client action tools).
    public let agents: Set<String>
    public let tables: Set<String>

    public func template(_ id: String) -> Template? { templates.first { $0.id == id } }

    /// The plan as the app receives it (every field present, null where a step has none), or what is wrong with it.
    /// `encoded`: `data` and `variables` may be JSON text, as the model writes them under a strict schema.
    public func check(_ given: JSONValue, agent: String, encoded: Bool = false) -> Result<JSONValue, PlanProblems> {
        var problems: [String] = []
        guard case .array(let steps)? = given["steps"], (1...Self.maxSteps).contains(steps.count) else {
            return .failure(PlanProblems(["steps: must be a list of 1 to \(Self.maxSteps) steps"]))
        }
        var checked: [JSONValue] = []
        for (index, step) in steps.enumerated() {
            let at = "steps.\(index)"
            func object(_ value: JSONValue?, _ field: String) -> [String: JSONValue] {
                var value = value ?? .null
                if encoded, let text = value.stringValue { value = text.isEmpty ? .object([:]) : JSONValue.parse(text) ?? .string(text) }
                switch value {
                case .null: return [:]
                case .object(let object): return object
                default:
                    problems.append("\(at).\(field): must be an object")
                    return [:]
                }
            }
            let action = step["action"] ?? .null
            let type = action["type"]?.stringValue ?? ""
            if !Self.actionTypes.contains(type) { problems.append("\(at).action.type: must be one of \(Self.actionTypes.joined(separator: ", "))") }
            let table = action["table"]?.stringValue
            if let table, !tables.contains(table) { problems.append("\(at).action.table: \(table) is not a table of the app") }
            if Self.recordActions.contains(type), table == nil { problems.append("\(at).action.table: \(type) must name its table") }
            let target = action["agent"]?.stringValue
            if let target, !agents.contains(target) { problems.append("\(at).action.agent: \(target) is not an agent of the app") }
            if type == "call_agent", target == nil { problems.append("\(at).action.agent: call_agent must name the agent") }
            let data = object(action["data"], "action.data")
            let variables = object(step["variables"], "variables")
            if variables.count > Self.maxVariables { problems.append("\(at).variables: at most \(Self.maxVariables)") }
            let templateID = step["prompt_template"]?.stringValue
            if let templateID {
                if let template = template(templateID) {
                    let missing = template.variables.filter { variables[$0] == nil }
                    if !missing.isEmpty { problems.append("\(at).variables: \(templateID) needs \(missing.joined(separator: ", "))") }
                    let unknown = variables.keys.filter { !template.variables.contains($0) }.sorted()
                    if !unknown.isEmpty { problems.append("\(at).variables: \(templateID) has no \(unknown.joined(separator: ", "))") }
                } else {
                    problems.append("\(at).prompt_template: \(templateID) is not a template of the app")
                }
            } else if !variables.isEmpty {
                problems.append("\(at).variables: only a step with a prompt_template has variables")
            }
            var from: JSONValue = .null
            if let source = step["data_from_step"], source != .null {
                // Only an earlier step's result exists when a step runs.
                if let number = source.intValue, (0..<index).contains(number) {
                    from = .int(Int64(number))
                } else {
                    problems.append(index == 0 ? "\(at).data_from_step: the first step has no earlier step to take data from"
                                               : "\(at).data_from_step: must name an earlier step, 0 to \(index - 1)")
                }
            }
            checked.append(["action": ["type": .string(type), "table": table.map(JSONValue.string) ?? .null, "data": .object(data),
                                       "agent": target.map(JSONValue.string) ?? .null],
                            "prompt_template": templateID.map(JSONValue.string) ?? .null, "variables": .object(variables), "data_from_step": from])
        }
        guard problems.isEmpty else { return .failure(PlanProblems(problems)) }
        return .success(["agent": .string(agent), "steps": .array(checked)])
    }

    /// The output format a planner answers in: strict (every property required, nothing else allowed), so `data`
    /// and `variables` are JSON text, and tables, agents and templates are enums of what exists.
    public func format(agents names: [String]) -> OutputFormat {
        func nullable(_ values: [String]) -> JSONValue {
            ["type": ["string", "null"], "enum": .array(values.sorted().map(JSONValue.string) + [.null])]
        }
        let action: JSONValue = ["type": "object", "additionalProperties": false, "required": ["type", "table", "data", "agent"], "properties": [
            "type": ["type": "string", "enum": .array(Self.actionTypes.map(JSONValue.string))],
            "table": nullable(Array(tables)),
            "data": ["type": "string", "description": "The action's fields as a JSON object, written as text: {} when it has none."],
            "agent": nullable(names),
        ]]
        let step: JSONValue = ["type": "object", "additionalProperties": false,
                               "required": ["action", "prompt_template", "variables", "data_from_step"], "properties": [
            "action": action,
            "prompt_template": nullable(templates.map(\.id)),
            "variables": ["type": "string", "description": "The template's variables as a JSON object, written as text: {} without a template."],
            "data_from_step": ["type": ["integer", "null"], "description": "The index (from 0) of an earlier step whose result this step uses."],
        ]]
        return OutputFormat(name: "execution_plan", schema: ["type": "object", "additionalProperties": false, "required": ["steps"],
                                                             "properties": ["steps": ["type": "array", "items": step]]])
    }
}

/// What is wrong with a plan, one line per problem (`steps.1.data_from_step: ...`).
public struct PlanProblems: Error, Sendable {
    public let lines: [String]

    init(_ lines: [String]) { self.lines = lines }
}

extension Checker {
    /// `plans: {model?, playbooks_path?, templates: {<id>: {file, description}}, playbooks: {<id>: {name, description,
    /// agent, steps}}}`, checked once the app's agents and tables are known.
    mutating func planBook(_ value: JSONValue?, agents: Set<String>, tables: Set<String>) -> PlanBook? {
        guard let value else { return nil }
        guard case .object(let spec) = value else {
            problem("plans", "must be {templates: {<id>: {file, description}}, playbooks: {<id>: {name, agent, steps}}}")
            return nil
        }
        allowOnly(spec, at: "plans", known: ["model", "playbooks_path", "templates", "playbooks"])
        if let model = spec["model"], model.stringValue?.isEmpty ?? true { problem("plans.model", "must be a configured model's name") }
        let path = spec["playbooks_path"]?.stringValue
        if spec["playbooks_path"] != nil, !(path.map(Self.isPath) ?? false) { problem("plans.playbooks_path", "must be a path like /plans/playbook") }
        var templates: [PlanBook.Template] = []
        let declared = spec["templates"]?.objectValue ?? [:]
        if spec["templates"] != nil, spec["templates"]?.objectValue == nil { problem("plans.templates", "must map template ids to {file, description}") }
        for id in inFileOrder(declared, at: "plans.templates") {
            let at = "plans.templates." + id
            guard Names.isIdentifier(id, maxLength: 64), case .object(let entry) = declared[id]! else {
                problem(at, "must be a template id (lowercase letters, digits, _) mapped to {file, description}")
                continue
            }
            allowOnly(entry, at: at, known: ["file", "description"])
            let description = entry["description"]?.stringValue ?? ""
            if description.isEmpty { problem(at + ".description", "is required: what the template does, for the planner (its text is never shown)") }
            guard let (file, text) = textFile(entry["file"], at: at + ".file", example: "prompts/templates/\(id).md") else { continue }
            do {
                let template = try PromptTemplate(text)
                let variables = Array(Set(template.unknownNames(.object([:])).map { String($0.split(separator: ".").first ?? "") })).sorted()
                templates.append(PlanBook.Template(id: id, description: description, template: template, text: text, variables: variables))
            } catch {
                problem(at + ".file", "\(file) is not a valid template: it \(error.message)")
            }
        }
        var book = PlanBook(model: spec["model"]?.stringValue, playbooksPath: path, templates: templates, playbooks: [], agents: agents, tables: tables)
        var playbooks: [PlanBook.Playbook] = []
        let books = spec["playbooks"]?.objectValue ?? [:]
        if spec["playbooks"] != nil, spec["playbooks"]?.objectValue == nil { problem("plans.playbooks", "must map playbook ids to {name, agent, steps}") }
        for id in inFileOrder(books, at: "plans.playbooks") {
            let at = "plans.playbooks." + id
            guard Names.isIdentifier(id, maxLength: 64), case .object(let entry) = books[id]! else {
                problem(at, "must be a playbook id (lowercase letters, digits, _) mapped to {name, description, agent, steps}")
                continue
            }
            allowOnly(entry, at: at, known: ["name", "description", "agent", "steps"])
            let name = entry["name"]?.stringValue ?? ""
            if name.isEmpty { problem(at + ".name", "is required: the playbook's name as the app shows it") }
            let agent = entry["agent"]?.stringValue ?? ""
            if !agents.contains(agent) { problem(at + ".agent", "must be one of the app's agents") }
            switch book.check(.object(entry), agent: agent) {
            case .success(let plan):
                playbooks.append(PlanBook.Playbook(id: id, name: name, description: entry["description"]?.stringValue ?? "", plan: plan))
            case .failure(let failure):
                for line in failure.lines {
                    let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    problem(at + "." + parts[0], parts.count > 1 ? parts[1] : line)
                }
            }
        }
        if path == nil, !playbooks.isEmpty { problem("plans.playbooks_path", "is required to serve the playbooks: a path like /plans/playbook") }
        book = PlanBook(model: book.model, playbooksPath: path, templates: templates, playbooks: playbooks, agents: agents, tables: tables)
        return book
    }
}
