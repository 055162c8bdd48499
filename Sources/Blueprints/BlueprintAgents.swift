import Foundation
import LLM

/// An agent the blueprint declares (`agents:`): a system prompt from a file of the blueprint, a configured model,
/// and the tools it may call: its collections' generated tools (`tasks.list`, `tasks.*`) and the platform's by name.
public struct BlueprintAgent: Sendable {
    public let name: String
    public let description: String
    /// A model name from configuration (`models.<name>.*`); nil for the default model. Checked when the server starts.
    public let model: String?
    /// The system prompt's file, a template rendered for each turn.
    public let system: PromptTemplate
    /// Further prompt files (`prompt_blocks`), in order; `cache` ones are stable text a provider may cache.
    public let blocks: [PromptBlock]
    /// Tool names as the model sees them: `tasks_list`, `current_time`.
    public let tools: [String]
    public let maxIterations: Int
    /// Tool name -> when its calls wait for the user's decision. Every `_delete` tool is here (`always` unless
    /// declared otherwise).
    public let approvals: [String: BlueprintApproval]
    /// The output guard (`sanitize:`, the agent's or else the app's).
    public let sanitize: Bool
    /// `off`, `tools` (the memory tools join its tools) or `auto` (and its memories are recalled into its prompt).
    public let memory: String
    /// The JSON Schema its answers follow (`output:`), an object every property of which is required; nil: text.
    public var output: JSONValue?

    /// `output` as models are asked for it, named `<agent>_output` (a mock script's turns answer it by that name).
    public var outputFormat: OutputFormat? { output.map { OutputFormat(name: name + "_output", schema: $0) } }
}

public struct PromptBlock: Sendable, Equatable {
    public let template: PromptTemplate
    public let cache: Bool
}

/// When an agent's calls of one tool wait for the user's approval (`approvals:`).
public enum BlueprintApproval: Sendable, Equatable {
    case never, always
    /// A filter over the call's record fields, as the tool would write them: `@body.status = 'archived'`, or
    /// `status = 'archived'`.
    case when(String)
}

/// What a generated tool does with its collection.
public enum ToolOperation: String, Sendable, CaseIterable {
    case list, get, create, update, delete, aggregate

    /// The tool's name: `<collection>_<operation>`.
    public func toolName(_ collection: String) -> String { collection + "_" + rawValue }
}

extension Checker {
    /// The platform's memory tools, which `memory: tools` and `memory: auto` give an agent.
    static let memoryTools = ["memory_search", "memory_save", "memory_update", "memory_delete"]

    mutating func agents(_ value: JSONValue?, collections: [CollectionSpec], sanitize: Bool) -> [BlueprintAgent] {
        guard let value else { return [] }
        guard case .object(let declared) = value else {
            problem("agents", "must map agent names to {description, model, system, tools}")
            return []
        }
        var agents: [BlueprintAgent] = []
        for name in inFileOrder(declared, at: "agents") {
            let at = "agents." + name
            guard Names.isIdentifier(name, maxLength: 40) else {
                problem(at, "an agent's name must be lowercase letters, digits or _, starting with a letter")
                continue
            }
            guard case .object(let spec) = declared[name] ?? .null else {
                problem(at, "must be a mapping with description, system and tools")
                continue
            }
            allowOnly(spec, at: at, known: ["description", "model", "system", "tools", "max_iterations", "approvals", "prompt_blocks", "sanitize",
                                                "memory", "output"])
            if let value = spec["sanitize"], value.boolValue == nil { problem(at + ".sanitize", "must be true or false") }
            let description = spec["description"]?.stringValue ?? ""
            if description.isEmpty { problem(at + ".description", "is required: what the agent does (routers and frontends read it)") }
            if let model = spec["model"], model.stringValue?.isEmpty ?? true { problem(at + ".model", "must be a configured model's name") }
            let system = promptFile(spec["system"], at: at + ".system", example: "prompts/\(name).md")
            let blocks = promptBlocks(spec["prompt_blocks"], at: at + ".prompt_blocks")
            let maxIterations = spec["max_iterations"].map { $0.intValue ?? 0 } ?? 8
            if !(1...50).contains(maxIterations) { problem(at + ".max_iterations", "must be an integer in 1...50") }
            var tools = agentTools(spec["tools"], collections: collections, at: at + ".tools")
            let memory = spec["memory"]?.stringValue ?? "off"
            if !["off", "tools", "auto"].contains(memory) { problem(at + ".memory", "must be off, tools or auto") }
            if memory != "off" { tools += Self.memoryTools.filter { !tools.contains($0) } }
            let approvals = agentApprovals(spec["approvals"], tools: tools, collections: collections, at: at + ".approvals")
            var agent = BlueprintAgent(name: name, description: description, model: spec["model"]?.stringValue, system: system,
                                       blocks: blocks, tools: tools, maxIterations: maxIterations, approvals: approvals,
                                       sanitize: spec["sanitize"]?.boolValue ?? sanitize, memory: memory)
            if let output = spec["output"] { agent.output = outputSchema(output, at: at + ".output") }
            agents.append(agent)
        }
        return agents
    }

    /// `output: schemas/reply.json`: a JSON file of the blueprint holding the answers' JSON Schema, in the form every
    /// provider can hold a model to (OpenAI's strict mode): objects list every property as required and allow no
    /// others; a value that may be missing is nullable (`type: [string, "null"]`).
    private mutating func outputSchema(_ value: JSONValue, at: String) -> JSONValue? {
        guard let (file, text) = textFile(value, at: at, example: "schemas/reply.json") else { return nil }
        guard let schema = JSONValue.parse(Data(text.utf8)), schema["type"] == "object" else {
            problem(at, "\(file) must hold a JSON Schema of an object")
            return nil
        }
        func strict(_ schema: JSONValue, _ path: String) -> [String] {
            switch schema {
            case .object(let node):
                var found: [String] = []
                if case .object(let properties)? = node["properties"] {
                    let required = Set((node["required"]?.arrayValue ?? []).compactMap(\.stringValue))
                    if required != Set(properties.keys) { found.append("\(path) must list every property under required") }
                    if node["additionalProperties"] != false { found.append("\(path) must say additionalProperties: false") }
                    for (name, property) in properties { found += strict(property, path + "." + name) }
                }
                if let items = node["items"] { found += strict(items, path + "[]") }
                return found
            default:
                return []
            }
        }
        for message in strict(schema, "the schema") { problem(at, "\(file): \(message) (a value that may be missing is nullable)") }
        return schema
    }

    /// A prompt file of the blueprint, parsed as a template whose every name must be a variable prompts have.
    private mutating func promptFile(_ value: JSONValue?, at: String, example: String) -> PromptTemplate {
        let empty = PromptTemplate.empty
        guard let (file, text) = textFile(value, at: at, example: example) else { return empty }
        do {
            let template = try PromptTemplate(text)
            let unknown = template.unknownNames(PromptVariables.sample(profile: profileFields, flags: flags))
            if !unknown.isEmpty {
                problem(at, "\(file) names unknown variables: \(unknown.map { "{{\($0)}}" }.joined(separator: ", ")) (prompts read app.*, "
                        + "agent.*, today, now, user.*, profile.<field> and flags.<name>)")
            }
            return template
        } catch {
            problem(at, "\(file) is not a valid template: it \(error.message)")
            return empty
        }
    }

    /// A non-empty UTF-8 text file inside the blueprint's directory: its name and text.
    mutating func textFile(_ value: JSONValue?, at: String, example: String) -> (file: String, text: String)? {
        guard let file = value?.stringValue, !file.isEmpty else {
            problem(at, "is required: a file of the blueprint holding a prompt, e.g. \(example)")
            return nil
        }
        guard !file.hasPrefix("/"), !file.split(separator: "/").contains("..") else {
            problem(at, "must be a file inside the blueprint's directory")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: directory + "/" + file), let text = String(data: data, encoding: .utf8),
              !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            problem(at, "\(file) does not exist in \(directory), is empty or is not UTF-8 text")
            return nil
        }
        return (file, text)
    }

    /// `prompt_blocks: [{file, cache}]`.
    private mutating func promptBlocks(_ value: JSONValue?, at: String) -> [PromptBlock] {
        guard let value else { return [] }
        guard case .array(let entries) = value, entries.count <= 8 else {
            problem(at, "must be a list of at most 8 {file, cache} blocks")
            return []
        }
        return entries.enumerated().compactMap { index, entry in
            guard case .object(let block) = entry else {
                problem("\(at).\(index)", "must be {file: prompts/x.md, cache: true}")
                return nil
            }
            allowOnly(block, at: "\(at).\(index)", known: ["file", "cache"])
            if let cache = block["cache"], cache.boolValue == nil { problem("\(at).\(index).cache", "must be true or false") }
            return PromptBlock(template: promptFile(block["file"], at: "\(at).\(index).file", example: "prompts/schema.md"),
                               cache: block["cache"]?.boolValue ?? false)
        }
    }

    /// `tasks.list`, `tasks.*` (every operation), or a platform tool's name, as tool names.
    private mutating func agentTools(_ value: JSONValue?, collections: [CollectionSpec], at: String) -> [String] {
        var names: [String] = []
        for (index, entry) in strings(value, at: at).enumerated() {
            let parts = entry.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else {
                // A platform tool (current_time, a connector's); whether it exists is checked when the server starts.
                if Names.isIdentifier(entry, maxLength: 64) { names.append(entry) } else { problem("\(at).\(index)", "\(entry) is not a tool name") }
                continue
            }
            guard let collection = collections.first(where: { $0.name == parts[0] }) else {
                problem("\(at).\(index)", "there is no collection \(parts[0])")
                continue
            }
            if parts[1] == "*" {
                names += ToolOperation.allCases.map { $0.toolName(collection.name) }
            } else if let operation = ToolOperation(rawValue: parts[1]) {
                names.append(operation.toolName(collection.name))
            } else {
                problem("\(at).\(index)", "must be \(parts[0]).* or one of \(ToolOperation.allCases.map { parts[0] + "." + $0.rawValue }.joined(separator: ", "))")
            }
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

extension Checker {
    /// `approvals:` maps a tool as the agent lists it (`tasks.delete`, `current_time`) to `never`, `always` or
    /// `{when: condition}`. Deleting tools wait for approval unless declared otherwise.
    mutating func agentApprovals(_ value: JSONValue?, tools: [String], collections: [CollectionSpec], at: String) -> [String: BlueprintApproval] {
        var approvals: [String: BlueprintApproval] = [:]
        // `memory_delete`: the platform's memory tool deletes too.
        for tool in tools where tool == "memory_delete" || collections.contains(where: { ToolOperation.delete.toolName($0.name) == tool }) {
            approvals[tool] = .always
        }
        guard let value else { return approvals }
        guard case .object(let declared) = value else {
            problem(at, "must map tools (tasks.delete, tasks.update) to never, always or {when: condition}")
            return approvals
        }
        for key in inFileOrder(declared, at: at) {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let collection = parts.count == 2 ? collections.first { $0.name == parts[0] } : nil
            let tool = parts.count == 2 ? ToolOperation(rawValue: parts[1]).flatMap { operation in collection.map { operation.toolName($0.name) } } : key
            guard let tool, tools.contains(tool) else {
                problem("\(at).\(key)", "is not one of the agent's tools (\(tools.joined(separator: ", ")))")
                continue
            }
            switch declared[key] {
            case .string("never"): approvals[tool] = .never
            case .string("always"): approvals[tool] = .always
            case .object(let condition) where condition.keys.sorted() == ["when"]:
                guard let collection, let text = condition["when"]?.stringValue else {
                    problem("\(at).\(key).when", collection == nil ? "conditions apply to a collection's tools only" : "must be a condition, e.g. \"@body.status = 'archived'\"")
                    continue
                }
                if text.contains("@auth") {
                    problem("\(at).\(key).when", "reads the call's fields (@body.x or x) and flags only, not @auth")
                    continue
                }
                checkRule(text, collection, body: true, at: "\(at).\(key).when")
                approvals[tool] = .when(text)
            default:
                problem("\(at).\(key)", "must be never, always or {when: condition}")
            }
        }
        return approvals
    }
}

/// The app's intent router (`router:`), addressed as the agent `router`.
public struct BlueprintRouter: Sendable, Equatable {
    public static let name = "router"
    public let description: String
    public let model: String?
    public let agents: [String]
    public let fallback: String
}

/// A pipeline (`pipelines.<name>`), addressed by its name as an agent is.
public struct BlueprintPipeline: Sendable, Equatable {
    public let name: String
    public let description: String
    public let agents: [String]
    public let synthesize: Bool
    public let model: String?
}

extension Checker {
    /// `router: {agents, fallback, model?, description?}`. Whether each agent exists is checked when the server starts
    /// (a configured agent may be named).
    mutating func router(_ value: JSONValue?, agents: [BlueprintAgent]) -> BlueprintRouter? {
        guard let value else { return nil }
        guard case .object(let spec) = value else {
            problem("router", "must be {agents: [a, b], fallback: a, model: <model>}")
            return nil
        }
        allowOnly(spec, at: "router", known: ["agents", "fallback", "model", "description"])
        if agents.contains(where: { $0.name == BlueprintRouter.name }) { problem("agents.router", "router is the name of the app's router") }
        let names = strings(spec["agents"], at: "router.agents")
        if names.count < 2 { problem("router.agents", "must name at least two agents to choose from") }
        for (index, name) in names.enumerated() where !Names.isIdentifier(name, maxLength: 40) { problem("router.agents.\(index)", "is not an agent's name") }
        let fallback = spec["fallback"]?.stringValue ?? ""
        if !Names.isIdentifier(fallback, maxLength: 40) { problem("router.fallback", "is required: the agent that answers when the choice fails") }
        if let model = spec["model"], model.stringValue?.isEmpty ?? true { problem("router.model", "must be a configured model's name") }
        return BlueprintRouter(description: spec["description"]?.stringValue ?? "Chooses the agent that answers each message.",
                               model: spec["model"]?.stringValue, agents: names, fallback: fallback)
    }

    /// `pipelines: {<name>: {agents, synthesize?, model?, description?}}`.
    mutating func pipelines(_ value: JSONValue?, agents: [BlueprintAgent]) -> [BlueprintPipeline] {
        guard let value else { return [] }
        guard case .object(let declared) = value else {
            problem("pipelines", "must map pipeline names to {agents: [a, b], synthesize: true}")
            return []
        }
        var pipelines: [BlueprintPipeline] = []
        for name in inFileOrder(declared, at: "pipelines") {
            let at = "pipelines." + name
            guard Names.isIdentifier(name, maxLength: 40), name != BlueprintRouter.name, !agents.contains(where: { $0.name == name }) else {
                problem(at, "a pipeline's name must be lowercase letters, digits or _, and not an agent's name or router")
                continue
            }
            guard case .object(let spec) = declared[name] ?? .null else {
                problem(at, "must be {agents: [a, b], synthesize: true}")
                continue
            }
            allowOnly(spec, at: at, known: ["agents", "synthesize", "model", "description"])
            let names = strings(spec["agents"], at: at + ".agents")
            if names.isEmpty || names.count > 10 { problem(at + ".agents", "must name 1 to 10 agents, run in that order") }
            for (index, agent) in names.enumerated() where !Names.isIdentifier(agent, maxLength: 40) { problem("\(at).agents.\(index)", "is not an agent's name") }
            if let synthesize = spec["synthesize"], synthesize.boolValue == nil { problem(at + ".synthesize", "must be true or false") }
            if let model = spec["model"], model.stringValue?.isEmpty ?? true { problem(at + ".model", "must be a configured model's name") }
            pipelines.append(BlueprintPipeline(name: name, description: spec["description"]?.stringValue ?? "Runs \(names.joined(separator: ", ")) in turn.",
                                               agents: names, synthesize: spec["synthesize"]?.boolValue ?? false, model: spec["model"]?.stringValue))
        }
        return pipelines
    }
}
