import App
import Foundation
import LLM
import Testing

@Suite("Chat configuration")
struct ChatSettingsTests {
    @Test("Models and agents are read by name from flags, with keys from the environment")
    func readsModelsAndAgents() async throws {
        let reader = try await Settings.reader(arguments: [
            "--models", "fast,local", "--models-fast-provider", "anthropic", "--models-fast-model", "claude-test",
            "--models-fast-api-key-env", "SWITCHBOARD_TEST_KEY", "--switchboard-test-key", "the-key",
            "--models-fast-fallbacks", "local", "--models-fast-max-attempts", "2",
            "--models-local-provider", "openai", "--models-local-model", "llama3", "--models-local-base-url", "http://127.0.0.1:11434/v1",
            "--agents", "helper", "--agents-helper-system-prompt", "Be brief, be kind.", "--agents-helper-tools", "current_time",
            "--agents-helper-model", "local", "--agents-helper-max-iterations", "4",
            "--chat-turn-timeout-seconds", "60",
        ], environmentFile: "/nonexistent/.env")
        let settings = try Settings(reader: reader)
        #expect(settings.models.map(\.name) == ["fast", "local"])
        #expect(settings.defaultModel == "fast")
        let fast = try #require(settings.models.first)
        #expect(fast.provider == .anthropic)
        #expect(fast.model == "claude-test")
        #expect(fast.apiKey == "the-key")
        #expect(fast.fallbacks == ["local"])
        #expect(fast.maxAttempts == 2)
        #expect(settings.models[1].apiKey == nil, "a local OpenAI-compatible server needs no key")
        #expect(settings.models[1].baseURL == "http://127.0.0.1:11434/v1")
        let agent = try #require(settings.agents.first)
        #expect(agent.name == "helper")
        #expect(agent.systemPrompt == "Be brief, be kind.", "a comma inside a value survives the command line")
        #expect(agent.tools == ["current_time"])
        #expect(agent.model == "local")
        #expect(agent.maxIterations == 4)
        #expect(settings.chat.turnTimeout == .seconds(60))
    }

    @Test("Mistakes in models and agents stop start-up naming the key")
    func rejectsBadModels() async throws {
        let reader = try await Settings.reader(arguments: [
            "--models", "good,Bad-Name,nokey,weird", "--models-good-provider", "mock", "--models-good-fallbacks", "missing",
            "--models-nokey-provider", "gemini", "--models-nokey-model", "gemini-x", "--models-nokey-api-key-env", "SWITCHBOARD_UNSET_VARIABLE",
            "--models-weird-provider", "skynet", "--chat-default-model", "ghost",
        ], environmentFile: "/nonexistent/.env")
        do {
            _ = try Settings(reader: reader)
            Issue.record("bad models were accepted")
        } catch let error as SettingsError {
            let text = error.description
            #expect(text.contains("models: 'Bad-Name' is not a valid name"))
            #expect(text.contains("models.good.fallbacks: 'missing' is not in models"))
            #expect(text.contains("SWITCHBOARD_UNSET_VARIABLE is not set"))
            #expect(text.contains("models.weird.provider must be one of"))
            #expect(text.contains("chat.default_model: 'ghost'"))
        }
    }
}
