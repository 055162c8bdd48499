import App
import Blueprints
import Core
import Foundation
import LLM
import Testing

@Suite("Blueprint agents: prompt templates and blocks")
struct PromptTemplateTests {
    @Test("Variables, sections over values and lists, inverted sections and comments render as Mustache does, unescaped")
    func render() throws {
        let template = try PromptTemplate("""
            Hi {{user.name}}{{! not shown }} <{{{app.title}}}> & {{&app.title}}.
            {{#flags.beta}}Beta is on.{{/flags.beta}}{{^flags.beta}}Beta is off.{{/flags.beta}}
            {{#items}}- {{text}} ({{score}}, {{app.title}})
            {{/items}}{{^items}}nothing{{/items}}{{#tags}}[{{.}}]{{/tags}}
            """)
        let context: JSONValue = ["user": ["name": "Ann & Bo"], "app": ["title": "A<B>"], "flags": ["beta": true],
                                  "items": [["text": "one", "score": 1.5], ["text": "two", "score": 2]], "tags": ["x", "y"]]
        #expect(template.render(context) == """
            Hi Ann & Bo <A<B>> & A<B>.
            Beta is on.
            - one (1.5, A<B>)
            - two (2, A<B>)
            [x][y]
            """)
        let empty: JSONValue = ["user": ["name": .null], "app": ["title": ""], "flags": ["beta": false], "items": [], "tags": []]
        #expect(template.render(empty).contains("Beta is off.") && template.render(empty).contains("nothing"))
        #expect(!template.isStatic && template.reads("flags") && !template.reads("profile"))
        #expect(try PromptTemplate("No variables here.").isStatic)
    }

    @Test("Names are checked against the variables, inside sections too; syntax errors name their line")
    func check() throws {
        let sample: JSONValue = ["app": ["title": ""], "items": [["text": ""]], "flags": ["beta": false]]
        let template = try PromptTemplate("{{app.title}} {{app.nope}} {{#items}}{{text}} {{app.title}} {{ghost}}{{/items}} {{#flags.beta}}{{/flags.beta}}")
        #expect(template.unknownNames(sample) == ["app.nope", "ghost"])
        for (text, message) in [("one\n{{#a}} open", "never closes {{#a}}"), ("x\ny {{/a}}", "line 2 closes {{/a}}"),
                                ("{{> partial}}", "partial"), ("{{a b}}", "not a name"), ("{{a", "never closed")] {
            #expect(throws: PromptTemplate.SyntaxError.self) { try PromptTemplate(text) }
            do { _ = try PromptTemplate(text) } catch { #expect(error.message.contains(message), "\(error.message)") }
        }
    }

    static let yaml = """
        blueprint: 1
        app: {name: fit, title: Fit Coach}
        profile:
          affinity_score: {type: integer, default: 0, minimum: 0}
        flags:
          beta: {default: true}
        collections:
          plans:
            schema: {type: object, properties: {name: {type: string}}}
        agents:
          coach:
            description: Coaches
            system: prompts/coach.md
            tools: [plans.list]
            prompt_blocks: [{file: prompts/schema.md, cache: true}, {file: prompts/style.md}]
        """
    static let files = [
        "prompts/coach.md": "You coach {{user.email}} for {{app.title}}. Affinity: {{profile.affinity_score}}. Today: {{today}}.{{#flags.beta}} Beta.{{/flags.beta}}",
        "prompts/schema.md": "Plans have a name.",
        "prompts/style.md": "Be brief, {{agent.name}}.",
    ]

    @Test("Each turn renders the agent's prompt for its user, the cached blocks first with Anthropic's cache breakpoint after them",
          arguments: FakeProvider.Kind.allCases)
    func perTurn(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [.text("Hello."), .text("Hello again.")])
        let directory = try TestBlueprint.directory(Self.yaml, files: Self.files)
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            #expect(try await app.request(.patch, "/api/v1/profile", json: ["affinity_score": 7], token: user.access).status == 200)
            let conversation = try await app.conversation(user.access)
            #expect(try await app.send(conversation, "Hi", token: user.access, extra: ["agent": "coach"]).status == 200)
            let today = String(RFC3339.format(app.clock.wallClock.now, fractionalDigits: 0).prefix(10))
            let prompt = "You coach \(user.email) for Fit Coach. Affinity: 7. Today: \(today). Beta."
            let body = fake.requests[0].body
            switch kind {
            case .anthropic:
                let blocks = body["system"]?.arrayValue ?? []
                #expect(blocks.compactMap { $0["text"]?.stringValue } == ["Plans have a name.", prompt, "Be brief, coach."])
                #expect(blocks.map { $0["cache_control"] != nil } == [true, false, false], "the breakpoint ends the stable blocks")
            case .openai:
                let system = body["messages"]?.arrayValue?.first
                #expect(system?["content"]?.stringValue == "Plans have a name.\n\n\(prompt)\n\nBe brief, coach.")
            case .gemini:
                #expect(body["systemInstruction"]?["parts"]?.arrayValue?.compactMap { $0["text"]?.stringValue }
                        == ["Plans have a name.", prompt, "Be brief, coach."])
            }
            #expect(try await app.request(.patch, "/api/v1/profile", json: ["affinity_score": 9], token: user.access).status == 200)
            _ = try await app.send(conversation, "Again", token: user.access, extra: ["agent": "coach"])
            #expect(fake.requests[1].body.jsonString.contains("Affinity: 9."), "rendered again for each turn")
        }
    }

    @Test("blueprint check: a prompt naming an unknown variable, or not a valid template, is refused with its file")
    func blueprintCheck() throws {
        let yaml = Self.yaml.replacingOccurrences(of: "{file: prompts/style.md}", with: "{file: prompts/style.md, cache: maybe}")
        let directory = try TestBlueprint.directory(yaml, files: [
            "prompts/coach.md": "Hi {{user.email}} {{profile.mood}} {{flags.gamma}}",
            "prompts/schema.md": "{{#plans}}",
            "prompts/style.md": "ok",
        ])
        TestBlueprint.expectProblems(yaml, directory: directory, ["agents.coach.system: prompts/coach.md names unknown variables: {{profile.mood}}, {{flags.gamma}}",
                             "agents.coach.prompt_blocks.0.file: prompts/schema.md is not a valid template: it never closes {{#plans}}",
                             "agents.coach.prompt_blocks.1.cache: must be true or false"])
    }
}
