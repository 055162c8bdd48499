import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdWSClient
import LLM
import Logging
import NIOCore
import OpenAPIRuntime
import Synchronization
import Testing

/// Streaming through real sockets: server-sent events and the WebSocket.
@Suite("Streaming over SSE and WebSocket")
struct StreamingTests {
    @Test("SSE carries the whole turn in order: user message, deltas, tool call and result, final message, done", arguments: FakeProvider.Kind.allCases)
    func eventOrder(kind: FakeProvider.Kind) async throws {
        let fake = try await FakeProvider.start(kind, [.toolCalls([FakeCall("current_time")], text: "Checking."), .text("It is late.")])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let (status, events) = try await EventStreamClient.events(port: app.client.port!, conversation: conversation,
                                                                      content: "Time?", token: user.access)
            #expect(status == 200)
            #expect(events.map(\.id) == Array(1...events.count), "ids number the events of the turn")
            let names = events.map(\.name).filter { $0 != "message.delta" }
            #expect(names == ["message.completed", "message.completed", "tool.call", "tool.result", "message.completed", "done"])
            #expect(events.first?.data["role"] == "user")
            // Deltas of each assistant message add up to its stored text.
            let completed = events.filter { $0.name == "message.completed" && $0.data["role"] == "assistant" }
            for message in completed {
                let id = message.data["id"]?.stringValue
                let deltas = events.filter { $0.name == "message.delta" && $0.data["message_id"]?.stringValue == id }
                let text = message.data["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
                #expect(deltas.compactMap { $0.data["delta"]?.stringValue }.joined() == text)
                #expect(!deltas.isEmpty)
            }
            #expect(events.first { $0.name == "tool.call" }?.data["tool_call"]?["name"] == "current_time")
            #expect(events.first { $0.name == "tool.result" }?.data["role"] == "tool")
            let done = try #require(events.last)
            #expect(done.data["status"] == "complete")
            #expect(done.data["usage"]?["output_tokens"]?.intValue == 2 * FakeUsage.output)
            try await app.expectEventsMatchStoredMessages(events, conversation: conversation, token: user.access)
        }
    }

    @Test("A stream cut mid-way keeps the partial answer as incomplete and ends with error, then done", arguments: FakeProvider.Kind.allCases)
    func cutStream(kind: FakeProvider.Kind) async throws {
        try await partialFailure(kind, .cut(afterText: "The answer is forty"))
    }

    @Test("An in-band error event mid-stream keeps the partial answer as incomplete", arguments: FakeProvider.Kind.allCases)
    func inBandError(kind: FakeProvider.Kind) async throws {
        try await partialFailure(kind, .inBandError(afterText: "Partly written"))
    }

    private func partialFailure(_ kind: FakeProvider.Kind, _ reply: FakeReply) async throws {
        let fake = try await FakeProvider.start(kind, [reply])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let (_, events) = try await EventStreamClient.events(port: app.client.port!, conversation: conversation,
                                                                 content: "Question", token: user.access)
            #expect(Array(events.map(\.name).suffix(2)) == ["error", "done"])
            let error = try #require(events.first { $0.name == "error" })
            #expect(error.data["model"] == "model0")
            #expect(error.data["code"]?.stringValue?.hasPrefix("model_") == true)
            #expect(events.last?.data["status"] == "incomplete")
            #expect(fake.requests.count == 1, "nothing is retried once part of the answer went out")

            let stored = try await app.messages(conversation, token: user.access)
            #expect(stored.map(\.role) == ["user", "assistant"])
            #expect(stored[1].status == "incomplete")
            // What was kept is exactly what the client was shown: a part of the answer, whatever the cut lost in flight.
            let shown = events.filter { $0.name == "message.delta" }.compactMap { $0.data["delta"]?.stringValue }.joined()
            #expect(stored[1].text == shown)
            #expect(!shown.isEmpty && reply.fullText.hasPrefix(shown), "\(shown)")
            #expect((stored[1]["error"] as? [String: Any])?["code"] as? String == error.data["code"]?.stringValue)
            try await app.expectEventsMatchStoredMessages(events, conversation: conversation, token: user.access)
            // The conversation is free again.
            fake.enqueue([.text("Recovered.")])
            let next = try await app.send(conversation, "Again", token: user.access)
            #expect(next.status == 200, "\(next.text)")
        }
    }

    @Test("A turn that waits on its model keeps the stream open with a keep-alive comment, which is no numbered event")
    func keepAlive() async throws {
        // Two pieces 20 s apart: the one keep-alive (15 s into the turn) falls between them, with a margin for a
        // loaded machine.
        let fake = try await FakeProvider.start(.openai, [.slow("ab", delay: .seconds(20))])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let response = try await HTTPClient.shared.execute(
                EventStreamClient.request(port: app.client.port!, conversation: conversation, content: "Wait", token: user.access),
                timeout: .seconds(180))
            #expect(response.status == .ok)
            let raw = String(buffer: try await response.body.collect(upTo: 1 << 20))
            let blocks = raw.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            let deltas = blocks.indices.filter { blocks[$0].hasPrefix("event: message.delta") }
            let comments = blocks.indices.filter { blocks[$0] == ": keep-alive" }
            #expect(deltas.count == 2)
            #expect(comments.count == 1)
            if let comment = comments.first, deltas.count == 2 { #expect(deltas[0] < comment && comment < deltas[1]) }
            let ids = blocks.compactMap { block in
                block.split(separator: "\n").first { $0.hasPrefix("id: ") }.flatMap { Int($0.dropFirst(4)) }
            }
            #expect(ids == Array(1...(blocks.count - comments.count)), "ids number the events, not the comments")
            #expect(blocks.last?.hasPrefix("event: done") == true)
        }
    }

    @Test("A client that hangs up does not stop the turn: it completes and is stored")
    func disconnect() async throws {
        let fake = try await FakeProvider.start(.openai, [.slow("one two three four five six", delay: .milliseconds(150))])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let (_, events) = try await EventStreamClient.events(port: app.client.port!, conversation: conversation, content: "Count",
                                                                 token: user.access, stopAfter: { $0.name == "message.delta" })
            #expect(events.last?.name == "message.delta")
            var stored: [[String: Any]] = []
            for _ in 0..<100 {
                stored = try await app.messages(conversation, token: user.access)
                if stored.count == 2 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(stored.count == 2)
            #expect(stored.last?.status == "complete")
            #expect(stored.last?.text == "one two three four five six")
        }
    }

    @Test("A second turn on a conversation while one runs answers 409; other conversations are not held up")
    func concurrentTurns() async throws {
        let fake = try await FakeProvider.start(.anthropic, [.slow("slow answer here", delay: .milliseconds(300)), .text("Other conversation."), .text("Later.")])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let other = try await app.conversation(user.access)
            // The first turn has claimed the conversation once its first event (the stored user message) arrives.
            let response = try await HTTPClient.shared.execute(
                EventStreamClient.request(port: app.client.port!, conversation: conversation, content: "First", token: user.access),
                timeout: .seconds(60))
            var events = response.body.map { ArraySlice($0.readableBytesView) }.asDecodedServerSentEvents().makeAsyncIterator()
            #expect(try await events.next()?.event == "message.completed")

            let second = try await app.send(conversation, "Second", token: user.access)
            #expect(second.status == 409)
            #expect(second.code == "turn_in_progress")
            let elsewhere = try await app.send(other, "Elsewhere", token: user.access)
            #expect(elsewhere.status == 200, "\(elsewhere.text)")
            var last: String?
            while let event = try await events.next() { last = event.event }
            #expect(last == "done")
            let afterwards = try await app.send(conversation, "Third", token: user.access)
            #expect(afterwards.status == 200, "the conversation is free once the turn is done")
        }
    }

    @Test("WebSocket: authenticated by header or by a first auth frame, the same events as JSON frames; a bad token is refused")
    func webSocket() async throws {
        let fake = try await FakeProvider.start(.gemini, [.toolCalls([FakeCall("current_time")]), .text("Over the socket."), .text("Second socket.")])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let url = "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream"
            let logger = Logger(label: "ws-test")

            let byHeader = try await Self.exchange(url: url, headers: [.authorization: "Bearer \(user.access)"], logger: logger, frames: [
                #"{"conversation_id": "\#(conversation)", "content": "Hello socket"}"#,
            ])
            let names = byHeader.compactMap { $0["event"]?.stringValue }.filter { $0 != "message.delta" }
            #expect(names == ["message.completed", "message.completed", "tool.call", "tool.result", "message.completed", "done"])
            #expect(byHeader.last?["data"]?["status"] == "complete")
            #expect(byHeader.compactMap { $0["id"]?.intValue } == Array(1...byHeader.count))

            // Browsers cannot set headers: the first frame authenticates. A bad request is an error frame, not a close.
            let byFrame = try await Self.exchange(url: url, headers: [:], logger: logger, frames: [
                #"{"type": "auth", "access_token": "\#(user.access)"}"#,
                #"{"conversation_id": "not-a-uuid", "content": "x"}"#,
                #"{"conversation_id": "\#(conversation)", "content": "Again"}"#,
            ])
            let problem = try #require(byFrame.first)
            #expect(problem["event"] == "error")
            #expect(problem["data"]?["code"] == "validation_failed")
            #expect(byFrame.last?["event"] == "done")

            // A revoked session is refused on its next frame.
            let logout = try await app.request(.post, "/api/v1/auth/logout", token: user.access)
            #expect(logout.status == 204)
            let refused = try await Self.exchange(url: url, headers: [:], logger: logger, frames: [
                #"{"type": "auth", "access_token": "\#(user.access)"}"#,
            ])
            #expect(refused.first?["data"]?["code"] == "session_revoked")

            // Without an upgrade the route explains itself.
            let other = try await app.signup()
            let plain = try await app.request(.get, "/api/v1/chat/stream", token: other.access)
            #expect(plain.status == 426)
            let anonymous = try await app.request(.get, "/api/v1/chat/stream")
            #expect(anonymous.status == 401)
        }
    }

    /// Connects, sends `frames`, and reads JSON frames until a `done` follows the last request frame, or the server
    /// closes.
    static func exchange(url: String, headers: HTTPFields, logger: Logger, frames: [String]) async throws -> [JSONValue] {
        let received = Mutex<[JSONValue]>([])
        let requests = frames.filter { !$0.contains(#""type": "auth""#) }.count
        try await WebSocketClient.connect(url: url, configuration: .init(additionalHeaders: headers), logger: logger) { inbound, outbound, _ in
            for frame in frames { try await outbound.write(.text(frame)) }
            var answered = 0
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message, let json = JSONValue.parse(text) else { continue }
                received.withLock { $0.append(json) }
                if json["event"] == "done" || (json["event"] == "error" && json["id"] == 0) { answered += 1 }
                if answered >= max(requests, 1) { break }
            }
            try? await outbound.close(.normalClosure, reason: nil)
        }
        return received.withLock { $0 }
    }
}
