import Agents
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

    @Test("Embedding models, the one memory uses, and an agent's memory mode are read by name; mistakes name the key")
    func readsEmbeddingsAndMemory() async throws {
        let reader = try await Settings.reader(arguments: [
            "--embeddings", "local", "--embeddings-local-provider", "openai", "--embeddings-local-model", "all-minilm",
            "--embeddings-local-base-url", "http://127.0.0.1:8081/v1", "--embeddings-local-dimensions", "384",
            "--memory-duplicate-threshold", "0.9", "--memory-recall-limit", "3",
            "--agents", "helper", "--agents-helper-system-prompt", "Help.", "--agents-helper-tools", "current_time", "--agents-helper-memory", "auto",
        ], environmentFile: "/nonexistent/.env")
        let settings = try Settings(reader: reader)
        #expect(settings.memoryEmbedding == "local" && settings.embeddings.first?.dimensions == 384)
        #expect(settings.embeddings.first?.baseURL == "http://127.0.0.1:8081/v1" && settings.embeddings.first?.apiKey == nil)
        #expect(settings.memory.duplicateThreshold == 0.9 && settings.memory.recallLimit == 3)
        let helper = try #require(settings.agents.first)
        #expect(helper.memory == .auto && helper.tools == ["current_time", "memory_search", "memory_save", "memory_update", "memory_delete"])

        let bad = try await Settings.reader(arguments: [
            "--embeddings", "g", "--embeddings-g-provider", "gemini", "--embeddings-g-model", "text-embedding-004",
            "--embeddings-g-api-key-env", "SWITCHBOARD_UNSET_VARIABLE", "--memory-embedding", "ghost",
            "--agents", "helper", "--agents-helper-system-prompt", "Help.", "--agents-helper-memory", "always",
        ], environmentFile: "/nonexistent/.env")
        do {
            _ = try Settings(reader: bad)
            Issue.record("the settings were accepted")
        } catch let error as SettingsError {
            let text = error.problems.joined(separator: "\n")
            for expected in ["embeddings.g.api_key_env: the environment variable SWITCHBOARD_UNSET_VARIABLE is not set",
                             "memory.embedding: 'ghost' is not in embeddings", "agents.helper.memory must be off, tools or auto"] {
                #expect(text.contains(expected), "missing: \(expected)\n\(text)")
            }
        }
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
