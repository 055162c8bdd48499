@testable import Agents
import Core
import Foundation
@testable import LLM
import Testing

@Suite("Tools, schemas and history")
struct ToolingTests {
    struct SlowTool: Tool {
        let name = "slow"
        let description = "Sleeps"
        let parameters: JSONValue = ["type": "object"]
        func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
            try await Task.sleep(for: .seconds(30))
            return "late"
        }
    }

    struct BrokenTool: Tool {
        struct Secret: Error {}
        let name = "broken"
        let description = "Fails"
        let parameters: JSONValue = ["type": "object"]
        func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue { throw Secret() }
    }

    struct BigTool: Tool {
        let name = "big"
        let description = "Talks a lot"
        let parameters: JSONValue = ["type": "object"]
        func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue { .string(String(repeating: "x", count: 5000)) }
    }

    let context = ToolContext(userID: UUID(), conversationID: UUID(), logger: TestDatabase.logger)

    @Test("A tool that overruns its time, one that throws, and one that floods all become error or cut results")
    func runner() async {
        let runner = ToolRunner(registry: ToolRegistry([SlowTool(), BrokenTool(), BigTool()]), timeout: .milliseconds(200), maxResultCharacters: 1000)
        let results = await runner.run([ToolCall(id: "1", name: "slow", arguments: [:]), ToolCall(id: "2", name: "broken", arguments: [:]),
                                        ToolCall(id: "3", name: "big", arguments: [:])],
                                       allowed: ["slow", "broken", "big"], context: context, finished: { _ in })
        #expect(results.map(\.callID) == ["1", "2", "3"], "results come back in the order of the calls")
        #expect(results[0].isError && results[0].content["error"]?.stringValue?.contains("did not finish") == true)
        #expect(results[1].isError && results[1].content["error"] == "The tool failed unexpectedly.", "internal errors stay internal")
        #expect(results[2].content["truncated"] == true)
        #expect(results[2].content.jsonString.count < 1200)
        let notAllowed = await runner.run(ToolCall(id: "4", name: "big", arguments: [:]), allowed: ["slow"], context: context)
        #expect(notAllowed.isError, "an agent reaches only its own tools")
    }

    @Test("Arguments are checked against the schema: types, required, extra fields, enums, ranges, lengths, items")
    func schema() {
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "name": ["type": "string", "minLength": 2, "maxLength": 5],
                "count": ["type": "integer", "minimum": 1, "maximum": 10],
                "mode": ["enum": ["fast", "slow"]],
                "tags": ["type": "array", "items": ["type": "string"], "maxItems": 2],
                "ratio": ["type": ["number", "null"], "exclusiveMaximum": 1],
            ],
            "required": ["name"],
            "additionalProperties": false,
        ]
        #expect(JSONSchema.validate(["name": "abc", "count": 3, "mode": "fast", "tags": ["a"], "ratio": 0.5], against: schema).isEmpty)
        #expect(JSONSchema.validate(["name": "abc", "count": 3.0, "ratio": .null], against: schema).isEmpty, "3.0 is an integer; null allowed")
        let violations = JSONSchema.validate(["count": 11, "mode": "medium", "tags": ["a", 2, "c"], "ratio": 1, "extra": true], against: schema)
        let described = Set(violations.map(\.description))
        #expect(described == [
            "name: is required", "count: must be at most 10", "mode: must be one of \"fast\", \"slow\"", "tags: must have at most 2 items",
            "tags.1: must be a string, not an integer", "ratio: must be less than 1", "extra: is not an accepted field",
        ])
        #expect(JSONSchema.validate("text", against: schema).map(\.description) == ["must be an object, not a string"])
        #expect(JSONSchema.validate(["x": 1], against: ["anyOf": [["required": ["y"]], ["required": ["x"]]]]).isEmpty)
    }

    @Test("History drops unanswered tool calls, stray results and empty messages, and orders results by call")
    func history() {
        let a = ToolCall(id: "a", name: "t", arguments: [:]), b = ToolCall(id: "b", name: "t", arguments: [:]), c = ToolCall(id: "c", name: "t", arguments: [:])
        let prepared = History.prepare([
            ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "z", name: "t", content: 1))]), // before any user message
            .user("hi"),
            ChatMessage(role: .assistant, parts: [.text("thinking"), .toolCall(a), .toolCall(b), .toolCall(c)]),
            ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "b", name: "t", content: 2))]),
            ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "a", name: "t", content: 1))]),
            ChatMessage(role: .assistant, parts: []),
            .user("again"),
            ChatMessage(role: .assistant, parts: [.text("partial")]),
        ])
        #expect(prepared.map(\.role) == [.user, .assistant, .tool, .user, .assistant])
        #expect(prepared[1].toolCalls.map(\.id) == ["a", "b"], "c was never answered")
        #expect(prepared[2].toolResults.map(\.callID) == ["a", "b"])
        #expect(prepared[4].text == "partial")
    }

    @Test("History prepares random histories as the rules say, and keeps a message it does not change as the same value")
    func historyAgainstTheRules() {
        /// The rules, written plainly: every assistant message's results gathered by id, its calls kept if answered,
        /// and its results made into a new message in the order of the calls.
        func rules(_ stored: [ChatMessage]) -> [ChatMessage] {
            guard let start = stored.firstIndex(where: { $0.role == .user }) else { return [] }
            let messages = Array(stored[start...])
            var prepared: [ChatMessage] = []
            var index = 0
            while index < messages.count {
                var message = messages[index]
                index += 1
                if message.role == .user, !message.parts.isEmpty { prepared.append(message) }
                guard message.role == .assistant else { continue }
                var results: [String: ToolResult] = [:]
                while index < messages.count, messages[index].role == .tool {
                    for result in messages[index].toolResults { results[result.callID] = result }
                    index += 1
                }
                message.parts = message.parts.filter { if case .toolCall(let call) = $0 { results[call.id] != nil } else { true } }
                guard !message.parts.isEmpty else { continue }
                prepared.append(message)
                let answered = message.toolCalls.compactMap { results[$0.id] }
                if !answered.isEmpty { prepared.append(ChatMessage(role: .tool, parts: answered.map(Part.toolResult))) }
            }
            return prepared
        }
        var generator = SystemRandomNumberGenerator()
        func id() -> String { ["a", "b", "c"].randomElement(using: &generator)! }
        for _ in 0..<3000 {
            var messages: [ChatMessage] = []
            for _ in 0..<Int.random(in: 0...8, using: &generator) {
                switch Int.random(in: 0..<4, using: &generator) {
                case 0:
                    messages.append(Bool.random(using: &generator) ? .user("u") : ChatMessage(role: .user, parts: []))
                case 1:
                    let text: [Part] = Bool.random(using: &generator) ? [.text("t")] : []
                    let calls = (0..<Int.random(in: 0...3, using: &generator)).map { _ in Part.toolCall(ToolCall(id: id(), name: "t", arguments: [:])) }
                    messages.append(ChatMessage(role: .assistant, parts: text + calls))
                default:
                    let results = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                        Part.toolResult(ToolResult(callID: id(), name: "t", content: .int(Int64.random(in: 0...2, using: &generator))))
                    }
                    messages.append(ChatMessage(role: .tool, parts: results))
                }
            }
            #expect(History.prepare(messages) == rules(messages), "\(messages)")
        }

        // The usual history: each message comes out as the same value, the form a provider wrote it in shared.
        let call = ToolCall(id: "a", name: "t", arguments: [:])
        let stored: [ChatMessage] = [.user("hi"), ChatMessage(role: .assistant, parts: [.text("looking"), .toolCall(call)]),
                                     ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "a", name: "t", content: 1))]),
                                     ChatMessage(role: .assistant, parts: [.text("done")])]
        let prepared = History.prepare(stored)
        #expect(prepared == stored)
        #expect(zip(prepared, stored).allSatisfy { $0.wireForm === $1.wireForm })
        var changed = stored[1]
        changed.parts.append(.text("more"))
        #expect(changed.wireForm !== stored[1].wireForm, "a changed message is written anew")
    }

    @Test("JSON values keep integers, booleans and strings apart, and print with sorted keys")
    func json() {
        let value = JSONValue.parse(#"{"b": true, "a": 1, "c": 1.5, "d": "x", "e": null, "f": [1, "2"]}"#)
        #expect(value == ["a": 1, "b": true, "c": 1.5, "d": "x", "e": .null, "f": [1, "2"]])
        #expect(value?.jsonString == #"{"a":1,"b":true,"c":1.5,"d":"x","e":null,"f":[1,"2"]}"#)
        #expect(JSONValue.parse("not json") == nil)
        // The parser: escapes, surrogate pairs, numbers, and what RFC 8259 forbids.
        #expect(JSONValue.parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\né😀"))
        #expect(JSONValue.parse("[-0, 12, 1.5e3, -2E-2, 9223372036854775807, 1e400]") == [0, 12, 1500.0, -0.02, .int(Int64.max), .double(.infinity)])
        #expect(JSONValue.parse(" { \"k\" : [ true , false , null ] } ") == ["k": [true, false, .null]])
        for bad in ["[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "\"\\x\"", "\"\u{1}\"", "\"\\ud800\"", "[1] 2", "nul", "{a:1}", "NaN", ""] {
            #expect(JSONValue.parse(bad) == nil, "\(bad) is not JSON")
        }
        #expect(JSONValue.parse(String(repeating: "[", count: 100_000)) == nil, "deep nesting is refused, not a crash")
        #expect(JSONValue.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) != nil)
        #expect(JSONValue.string("line\nbreak \"quoted\"").jsonString == #""line\nbreak \"quoted\"""#)
    }

    @Test("current_time answers in UTC and in a named zone")
    func currentTime() async throws {
        let clock = WallClock { Date(timeIntervalSince1970: 1_800_000_000) } // 2027-01-15T08:00:00Z, a Friday
        let tool = CurrentTimeTool(clock: clock)
        let utc = try await tool.execute([:], context: context)
        #expect(utc["utc"] == "2027-01-15T08:00:00Z")
        #expect(utc["weekday"] == "Friday")
        let tokyo = try await tool.execute(["timezone": "Asia/Tokyo"], context: context)
        #expect(tokyo["local"] == "2027-01-15T17:00:00+09:00")
        await #expect(throws: ToolError.self) { try await tool.execute(["timezone": "Nowhere/Land"], context: context) }
    }
}
