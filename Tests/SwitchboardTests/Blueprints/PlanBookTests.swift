@testable import Blueprints
import Foundation
@testable import LLM
import Testing

/// `plans:`: templates and playbooks checked when the blueprint loads, and the checks every plan a model writes passes.
@Suite("Plan mode: templates, playbooks, plan checks")
struct PlanBookTests {
    static let yaml = """
        blueprint: 1
        app: {name: planner}
        client_tools:
          task_create: {description: Create a task, action: {type: create_record, table: tasks}}
        agents:
          task: {description: Tasks, system: prompts/task.md, tools: [task_create]}
        plans:
          playbooks_path: /plans/playbook
          templates:
            extract: {file: prompts/extract.md, description: Turns a text into a task}
          playbooks:
            from_email:
              name: From email
              agent: task
              steps:
                - {action: {type: call_agent, agent: task}, prompt_template: extract, variables: {text: x, lang: en}}
                - {action: {type: create_record, table: tasks}, data_from_step: 0}
        chat_routes:
          - {path: /chat, agent: task, stateless: true, request: {message: content, mode: mode}, response: {reply: message.text}}
        """
    static let files = ["prompts/task.md": "You manage tasks.", "prompts/extract.md": "Write the task in {{text}}, in {{#lang}}{{lang}}{{/lang}}."]

    static func book() throws -> PlanBook {
        let directory = try TestBlueprint.directory(Self.yaml, files: Self.files)
        return try #require(try BlueprintLoader.load(directory: directory).plans)
    }

    @Test("A template's variables are the names it reads; a playbook is checked into the full plan shape")
    func loads() throws {
        let book = try Self.book()
        #expect(book.template("extract")?.variables == ["lang", "text"])
        #expect(book.tables == ["tasks"] && book.agents == ["task"])
        let plan = try #require(book.playbooks.first?.plan)
        #expect(plan["agent"] == "task")
        #expect(plan["steps"]?[1] == ["action": ["type": "create_record", "table": "tasks", "data": [:], "agent": .null],
                                      "prompt_template": .null, "variables": [:], "data_from_step": 0])
    }

    @Test("Plans naming what the app does not have, later steps' data, or a template's missing variables are refused, each problem named",
          arguments: [
              (#"{"steps": []}"#, "steps: must be a list of 1 to 12"),
              (#"{"steps": [{"action": {"type": "launch"}}]}"#, "steps.0.action.type: must be one of"),
              (#"{"steps": [{"action": {"type": "create_record"}}]}"#, "steps.0.action.table: create_record must name its table"),
              (#"{"steps": [{"action": {"type": "create_record", "table": "users"}}]}"#, "steps.0.action.table: users is not a table"),
              (#"{"steps": [{"action": {"type": "call_agent", "agent": "root"}}]}"#, "steps.0.action.agent: root is not an agent"),
              (#"{"steps": [{"action": {"type": "send_notification"}, "data_from_step": 0}]}"#, "the first step has no earlier step"),
              (#"{"steps": [{"action": {"type": "send_notification"}}, {"action": {"type": "send_notification"}, "data_from_step": 1}]}"#,
               "steps.1.data_from_step: must name an earlier step, 0 to 0"),
              (#"{"steps": [{"action": {"type": "call_agent", "agent": "task"}, "prompt_template": "extract", "variables": "{\"text\": 1}"}]}"#,
               "steps.0.variables: extract needs lang"),
              (#"{"steps": [{"action": {"type": "call_agent", "agent": "task"}, "prompt_template": "secret"}]}"#,
               "steps.0.prompt_template: secret is not a template"),
              (#"{"steps": [{"action": {"type": "send_notification", "data": "[1]"}}]}"#, "steps.0.action.data: must be an object"),
          ])
    func refused(plan: String, problem: String) throws {
        let book = try Self.book()
        switch book.check(try #require(JSONValue.parse(plan)), agent: "task", encoded: true) {
        case .success(let checked): Issue.record("accepted: \(checked.jsonString)")
        case .failure(let problems): #expect(problems.lines.contains { $0.hasPrefix(problem) || $0.contains(problem) }, "\(problems.lines)")
        }
    }

    @Test("blueprint check: a playbook's bad steps with their lines, templates that do not exist, plan mode without plans")
    func checked() throws {
        let directory = try TestBlueprint.directory(Self.yaml, files: Self.files)
        TestBlueprint.expectProblems(Self.yaml.replacingOccurrences(of: "data_from_step: 0}", with: "data_from_step: 5}")
            .replacingOccurrences(of: "prompts/extract.md", with: "prompts/missing.md"), directory: directory, [
            "blueprint.yaml:10: plans.templates.extract.file: prompts/missing.md does not exist",
            "plans.playbooks.from_email.steps.1.data_from_step: must name an earlier step",
        ])
        let withoutPlans = Self.yaml.components(separatedBy: "\nplans:")[0] + """

            chat_routes:
              - {path: /chat, agent: task, request: {message: content, mode: mode}}
            """
        TestBlueprint.expectProblems(withoutPlans, directory: directory, ["chat_routes.0.request.mode: plan mode needs the app's plans:"])
    }

    @Test("Gemini reads a nullable enum as its own nullable type, without the null")
    func geminiNullable() {
        let converted = GeminiProvider.responseSchema(["type": ["string", "null"], "enum": ["a", "b", .null]])
        #expect(converted == ["type": "STRING", "nullable": true, "enum": ["a", "b"]])
    }
}
