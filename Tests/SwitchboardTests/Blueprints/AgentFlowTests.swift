import App
import Blueprints
import Foundation
import LLM
import Testing

/// A blueprint's router and pipelines.
@Suite("Blueprint agents: router and pipelines")
struct AgentFlowTests {
    static let yaml = """
        blueprint: 1
        app: {name: fit, title: Fit}
        collections:
          plans:
            schema: {type: object, properties: {name: {type: string}}}
        agents:
          coach: {description: Plans workouts, system: prompts/coach.md, tools: [plans.list]}
          nutrition: {description: Advises on food, system: prompts/nutrition.md, tools: [current_time]}
        router: {agents: [coach, nutrition], fallback: coach}
        pipelines:
          weekly_review: {agents: [coach, nutrition], synthesize: true, description: The week in review}
        """
    static let files = ["prompts/coach.md": "You are the coach.", "prompts/nutrition.md": "You are the nutritionist."]

    static func withApp(_ kind: FakeProvider.Kind, _ replies: [FakeReply], _ body: @Sendable (TestApp, FakeProvider) async throws -> Void) async throws {
        let fake = try await FakeProvider.start(kind, replies)
        let directory = try TestBlueprint.directory(Self.yaml, files: Self.files)
        try await TestApp.withFakes([fake], customize: { $0.blueprintDirectory = directory }) { app in try await body(app, fake) }
    }

    @Test("The router's one constrained call chooses the agent that answers, announced and stored", arguments: FakeProvider.Kind.allCases)
    func routes(kind: FakeProvider.Kind) async throws {
        try await Self.withApp(kind, [.text(#"{"agent": "nutrition"}"#), .text("Eat more greens."), .text(#"{"agent":"coach"}"#), .text("Squat.")]) { app, fake in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let streamed = try await app.send(conversation, "What should I eat?", token: user.access, extra: ["agent": "router", "stream": true])
            #expect(streamed.text.contains("event: agent.selected") && streamed.text.contains(#""reason":"router""#)
                    && streamed.text.contains(#""agent":"nutrition""#), "\(streamed.text)")
            let reply = try await app.send(conversation, "And my training?", token: user.access, extra: ["agent": "router"])
            #expect((reply["message"] as? [String: Any])?.text == "Squat.", "\(reply.text)")
            let answers = try await app.messages(conversation, token: user.access).filter { $0.role == "assistant" }
            #expect(answers.map { $0["agent"] as? String } == ["nutrition", "coach"], "each answer records its agent")
            #expect(answers.first?.text == "Eat more greens.")

            let routing = fake.requests[0].body
            switch kind {
            case .openai:
                let format = routing["response_format"]?["json_schema"]?["schema"]?["properties"]?["agent"]?["enum"]
                #expect(format == ["coach", "nutrition"], "an enum-constrained answer: \(routing.jsonString)")
            case .gemini:
                let schema = routing["generationConfig"]?["responseSchema"]?["properties"]?["agent"]
                #expect(schema?["enum"] == ["coach", "nutrition"] && schema?["type"] == "STRING", "\(routing.jsonString)")
                #expect(routing["generationConfig"]?["responseMimeType"] == "application/json")
            case .anthropic:
                #expect(routing.jsonString.contains("JSON Schema"), "the schema asked for in words")
            }
            #expect(fake.requests[1].body.jsonString.contains("You are the nutritionist."), "the chosen agent answers")
        }
    }

    @Test("A router answer that is not one of its agents falls back")
    func fallsBack() async throws {
        try await Self.withApp(.openai, [.text("Hmm, maybe the nutritionist?"), .text("Coach here.")]) { app, fake in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let streamed = try await app.send(conversation, "Hello", token: user.access, extra: ["agent": "router", "stream": true])
            #expect(streamed.text.contains(#""reason":"fallback""#), "\(streamed.text)")
            #expect(try await app.messages(conversation, token: user.access).last?["agent"] as? String == "coach")
            #expect(fake.requests[1].body.jsonString.contains("You are the coach."))
        }
    }

    @Test("A pipeline runs its agents in turn, each seeing the answers before, then one synthesis; every step is stored",
          arguments: FakeProvider.Kind.allCases)
    func pipeline(kind: FakeProvider.Kind) async throws {
        try await Self.withApp(kind, [.text("Three workouts done."), .text("Protein was low."), .text("Good week: three workouts; eat more protein.")]) { app, fake in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Review my week", token: user.access, extra: ["agent": "weekly_review"])
            #expect((reply["message"] as? [String: Any])?.text == "Good week: three workouts; eat more protein.", "\(reply.text)")
            let answers = try await app.messages(conversation, token: user.access).filter { $0.role == "assistant" }
            #expect(answers.map { $0["agent"] as? String } == ["coach", "nutrition", "weekly_review"])
            #expect(fake.requests[1].body.jsonString.contains("Three workouts done."), "the second agent sees the first's answer")
            #expect(fake.requests[1].body.jsonString.contains("You are the nutritionist."))
            #expect(fake.requests[2].body.jsonString.contains("Protein was low.") && fake.requests[2].body.jsonString.contains("specialists"))
            let agents = try await app.request(.get, "/api/v1/agents", token: user.access)["items"] as? [[String: Any]]
            let names = Set((agents ?? []).compactMap { $0["name"] as? String })
            #expect(names.isSuperset(of: ["router", "weekly_review", "coach"]), "\(names)")
        }
    }

    @Test("blueprint check: a router needs two agents and a fallback; a pipeline's name is its own; unknown agents stop start-up")
    func check() async throws {
        let yaml = Self.yaml.replacingOccurrences(of: "router: {agents: [coach, nutrition], fallback: coach}", with: "router: {agents: [coach]}")
            .replacingOccurrences(of: "weekly_review: {", with: "coach: {")
        let directory = try TestBlueprint.directory(yaml, files: Self.files)
        TestBlueprint.expectProblems(yaml, directory: directory, ["router.agents: must name at least two agents", "router.fallback: is required", "pipelines.coach: a pipeline's name"])
        let ghost = Self.yaml.replacingOccurrences(of: "fallback: coach", with: "fallback: ghost")
        let ghostDirectory = try TestBlueprint.directory(ghost, files: Self.files)
        await #expect(throws: StartupError.self) {
            try await TestApp.run(customize: { $0.blueprintDirectory = ghostDirectory }) { _ in }
        }
    }
}
