import Agents
import AsyncHTTPClient
import Core
import Foundation
@testable import LLM
import OpenAPIRuntime
import Storage
import Testing

/// Limits, odd input and shutdown: what keeps one user, one character or one deploy from breaking the store.
@Suite("Chat robustness")
struct RobustnessTests {
    @Test("Messages appended at the same moment get distinct places (parallel tool results)")
    func concurrentAppends() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let store = ConversationStore(db: app.server.database)
            let conversationID = try #require(UUID(uuidString: id)), userID = try #require(UUID(uuidString: user.userID))
            let turn = UUID()
            let seqs = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await store.append(StoredMessage(conversationID: conversationID, turnID: turn, role: .tool,
                                                             parts: [.toolResult(ToolResult(callID: "c\(index)", name: "t", content: .int(Int64(index))))],
                                                             createdAt: Date()), userID: userID).seq
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(seqs.sorted() == Array(1...20))
            #expect(try await app.messages(id, token: user.access).count == 20)
        }
    }

    @Test("A provider whose streamed event never ends fails the turn as model_error past 16 MiB; the next turn is answered")
    func endlessProviderEvent() async throws {
        let fake = try await FakeProvider.start(.openai, [.endless(megabytes: 40), .text("Back to normal.")])
        try await TestApp.withFakes([fake], testing: .live, customize: { $0.retry.cooldownAfter = 100 }) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let failed = try await app.send(id, "Go on forever", token: user.access, extra: ["model": "model0"])
            #expect(failed.status == 502, "\(failed.text.prefix(300))")
            #expect(failed.code == "model_error")
            #expect((failed["detail"] as? String)?.contains("16 MiB") == true, "\(failed.text.prefix(300))")
            let next = try await app.send(id, "Again", token: user.access)
            #expect(next.status == 200, "\(next.text.prefix(300))")
            #expect(fake.requests.count == 2, "a malformed answer is not retried")
        }
    }

    @Test("One user can run only so many turns at once: 429 too_many_turns")
    func turnCap() async throws {
        let fake = try await FakeProvider.start(.openai, [.slow("a slow answer indeed", delay: .milliseconds(300)), .text("Afterwards.")])
        try await TestApp.withFakes([fake], testing: .live, customize: { $0.chat.maxConcurrentTurnsPerUser = 1 }) { app in
            let user = try await app.signup()
            let first = try await app.conversation(user.access)
            let second = try await app.conversation(user.access)
            let response = try await HTTPClient.shared.execute(
                EventStreamClient.request(port: app.client.port!, conversation: first, content: "Slow", token: user.access), timeout: .seconds(60))
            var events = response.body.map { ArraySlice($0.readableBytesView) }.asDecodedServerSentEvents().makeAsyncIterator()
            _ = try await events.next()
            let refused = try await app.send(second, "Meanwhile", token: user.access)
            #expect(refused.status == 429)
            #expect(refused.code == "too_many_turns")
            #expect(refused.headers[.retryAfter] != nil)
            let other = try await app.signup()
            let theirs = try await app.conversation(other.access)
            #expect(try await app.send(theirs, "Not limited by someone else", token: other.access).status == 200)
            while try await events.next() != nil {}
            #expect(try await app.send(second, "Now", token: user.access).status == 200)
        }
    }

    @Test("Shutdown stops a running turn cleanly: the part written is stored and the conversation is released")
    func shutdownStopsTurns() async throws {
        let fake = try await FakeProvider.start(.anthropic, [.slow("one two three four five six seven eight", delay: .seconds(5))])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            let owner = try #require(try await app.server.accounts.user(email: user.email))
            let turn = try await app.server.orchestrator.start(.init(user: owner, conversationID: UUID(uuidString: id)!,
                                                                   content: "Count slowly", agent: nil, model: nil))
            var iterator = turn.events.makeAsyncIterator()
            while let event = await iterator.next(), event.name != "message.delta" {}
            await app.server.orchestrator.stopRunningTurns(timeout: .milliseconds(10))
            var names: [String] = []
            while let event = await iterator.next() { names.append(event.name) }
            #expect(names.suffix(2) == ["error", "done"])
            let stored = try await app.messages(id, token: user.access)
            #expect(stored.last?.status == "incomplete")
            #expect((stored.last?["error"] as? [String: Any])?["code"] as? String == "server_shutdown")
            let row = try await app.server.database.first("SELECT turn_id FROM conversations WHERE id = \(bind: id)")
            #expect(try row?.decodeNil(column: "turn_id") == true, "the conversation is free again")
        }
    }

    @Test("NUL and control characters: refused where people type, removed where models write, on both engines")
    func controlCharacters() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("nul\u{0}inside"), .toolCalls([FakeCall("current_time", #"{"timezone": "UTC\u0000"}"#)]), .text("done")])
        try await TestApp.withFakes([fake]) { app in
            let user = try await app.signup()
            #expect(try await app.request(.post, "/api/v1/conversations", json: ["title": "bad\u{0}title"], token: user.access).fieldErrors["title"] == "invalid_character")
            #expect(try await app.request(.put, "/api/v1/user/profile", json: ["name": "tab\there"], token: user.access).fieldErrors["name"] == "invalid_character")
            // 150 characters of two scalars each: 300 by the contract's count (found by the fuzzer).
            let marked = String(repeating: "e\u{301}", count: 150)
            #expect(try await app.request(.put, "/api/v1/user/profile", json: ["name": marked], token: user.access).fieldErrors["name"] == "too_long")
            #expect(try await app.request(.post, "/api/v1/api-keys", json: ["name": String(repeating: "e\u{301}", count: 60), "scopes": ["chat"]],
                                          token: user.access).fieldErrors["name"] == "invalid_name")
            // 201 scalars as sent, 200 once the form feed is trimmed: the contract counts what is sent (found by the fuzzer).
            let padded = "\u{C}" + String(repeating: "*", count: 200)
            #expect(try await app.request(.post, "/api/v1/conversations", json: ["title": padded], token: user.access).fieldErrors["title"] == "too_long")
            #expect(try await app.request(.post, "/api/v1/auth/signup", json: ["email": "b@example.com", "password": String(repeating: "e\u{301}", count: 513)])
                .fieldErrors["password"] == "invalid_length")
            #expect(try await app.request(.post, "/api/v1/auth/signup", json: ["email": " " + String(repeating: "a", count: 242) + "@example.com", "password": "password1"])
                .fieldErrors["email"] == "invalid_email")
            let id = try await app.conversation(user.access)
            #expect(try await app.request(.patch, "/api/v1/conversations/\(id)", json: ["title": padded], token: user.access).fieldErrors["title"] == "too_long")
            #expect(try await app.send(id, "hello\u{0}", token: user.access).fieldErrors["content"] == "invalid_character")
            let reply = try await app.send(id, "hello", token: user.access)
            #expect(reply.status == 200, "\(reply.text)")
            #expect((reply["message"] as? [String: Any])?.text == "nul\u{0}inside", "the answer is kept whole in its parts")
            let tools = try await app.send(id, "time?", token: user.access)
            #expect(tools.status == 200, "\(tools.text)")
        }
    }

    @Test("Title search ignores case beyond ASCII, the same on SQLite and PostgreSQL")
    func unicodeSearch() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            _ = try await app.conversation(user.access, title: "École d'été")
            _ = try await app.conversation(user.access, title: "ΣΟΦΙΑ")
            let accented = try await app.request(.get, "/api/v1/conversations?q=%C3%89COLE", token: user.access) // ÉCOLE
            #expect(accented["total"] as? Int == 1)
            let greek = try await app.request(.get, "/api/v1/conversations?q=%CF%83%CE%BF%CF%86", token: user.access) // σοφ
            #expect(greek["total"] as? Int == 1)
        }
    }

    @Test("OpenAI's own API gets max_completion_tokens; compatible servers get max_tokens")
    func maxTokensField() {
        var official = ModelConfig(name: "o", provider: .openai, model: "o3")
        official.maxOutputTokens = 100
        func body(_ config: ModelConfig) -> JSONValue? {
            JSONValue.parse(Data(OpenAIProvider(config: config, client: .shared).body(ChatRequest(messages: [.user("x")]), stream: true)))
        }
        #expect(body(official)?["max_completion_tokens"] == 100)
        var local = official
        local.baseURL = "http://127.0.0.1:11434/v1"
        #expect(body(local)?["max_tokens"] == 100)
    }

    @Test("The OpenAI request is written by hand byte for byte as the same members written as a JSON value: every role, tool calls, options")
    func openAIBodyBytes() {
        var config = ModelConfig(name: "o", provider: .openai, model: "gpt-\"4\"")
        config.maxOutputTokens = 50
        let history: [ChatMessage] = [
            .user("Hello \"there\"\n\u{2028}é😀"),
            ChatMessage(role: .assistant, parts: [.text("Looking "), .text("it up."),
                                                  .toolCall(ToolCall(id: "call_1", name: "lookup", arguments: ["q": "swift", "n": 3])),
                                                  .toolCall(ToolCall(id: "call_2", name: "other", arguments: .object([:])))]),
            ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "call_1", name: "lookup", content: ["found": [1, 2]])),
                                             .toolResult(ToolResult(callID: "call_2", name: "other", content: "plain text", isError: true))]),
            ChatMessage(role: .assistant, parts: [.toolCall(ToolCall(id: "call_3", name: "lookup", arguments: ["q": "x"]))]),
            ChatMessage(role: .assistant, parts: [.text("Done.")]),
        ]
        let tools = [ToolSpec(name: "lookup", description: "Looks \"up\"", parameters: ["type": "object", "properties": ["q": ["type": "string"]]])]
        let output = OutputFormat(name: "answer", schema: ["type": "object"])
        for (system, stream, temperature, withTools, withOutput) in [([SystemBlock("Be brief."), SystemBlock(""), SystemBlock("Cite.")], true, 0.25, true, true),
                                                                     ([], false, nil, false, false)] as [([SystemBlock], Bool, Double?, Bool, Bool)] {
            let request = ChatRequest(system: system, messages: history, tools: withTools ? tools : [], temperature: temperature,
                                      output: withOutput ? output : nil)
            var messages: [JSONValue] = []
            if !system.isEmpty { messages.append(["role": "system", "content": "Be brief.\n\nCite."]) }
            messages.append(["role": "user", "content": .string(history[0].text)])
            messages.append(["role": "assistant", "content": "Looking it up.", "tool_calls": [
                ["id": "call_1", "type": "function", "function": ["name": "lookup", "arguments": .string(#"{"n":3,"q":"swift"}"#)]],
                ["id": "call_2", "type": "function", "function": ["name": "other", "arguments": "{}"]],
            ]])
            messages.append(["role": "tool", "tool_call_id": "call_1", "content": .string(#"{"found":[1,2]}"#)])
            messages.append(["role": "tool", "tool_call_id": "call_2", "content": "plain text"])
            messages.append(["role": "assistant", "content": .null, "tool_calls": [
                ["id": "call_3", "type": "function", "function": ["name": "lookup", "arguments": .string(#"{"q":"x"}"#)]],
            ]])
            messages.append(["role": "assistant", "content": "Done."])
            var expected: [String: JSONValue] = ["model": .string(config.model), "messages": .array(messages), "max_completion_tokens": 50]
            if withTools {
                expected["tools"] = [["type": "function", "function": ["name": "lookup", "description": #"Looks "up""#, "parameters": tools[0].parameters]]]
            }
            if let temperature { expected["temperature"] = .double(temperature) }
            if withOutput { expected["response_format"] = ["type": "json_schema", "json_schema": ["name": "answer", "schema": ["type": "object"], "strict": true]] }
            if stream {
                expected["stream"] = true
                expected["stream_options"] = ["include_usage": true]
            }
            let written = OpenAIProvider(config: config, client: .shared).body(request, stream: stream)
            #expect(String(decoding: written, as: UTF8.self) == JSONValue.object(expected).jsonString)
        }

        // The second request above wrote each message from the form the first kept with it; a message or a tool
        // changed since is written anew, and the copies it was made from keep theirs.
        var changed = ChatRequest(messages: history, tools: tools + [ToolSpec(name: "second", description: "", parameters: [:])])
        changed.messages[0].parts = [.text("Changed")]
        changed.messages[2].parts.removeLast()
        changed.tools[0].description = "Looks again"
        let again = JSONValue.parse(Data(OpenAIProvider(config: config, client: .shared).body(changed, stream: false)))
        #expect(again?["messages"]?[0]?["content"] == "Changed")
        #expect(again?["messages"]?.arrayValue?.count == 5, "user, assistant, the one result left, assistant, assistant")
        #expect(again?["tools"]?[0]?["function"]?["description"] == "Looks again")
        #expect(again?["tools"]?[1]?["function"]?["name"] == "second")
        let original = JSONValue.parse(Data(OpenAIProvider(config: config, client: .shared).body(ChatRequest(messages: history, tools: tools), stream: false)))
        #expect(original?["messages"]?[0]?["content"] == .string(history[0].text))
        #expect(original?["messages"]?.arrayValue?.count == 6)
        #expect(original?["tools"]?[0]?["function"]?["description"] == #"Looks "up""#)
    }
}
