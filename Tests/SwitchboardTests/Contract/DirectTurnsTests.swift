import Foundation
import HTTPTypes
import LLM
import NIOCore
import OpenAPIRuntime
import Testing
@testable import App

/// A streamed `sendMessage` in the form chat frontends send is read and started without the generated code
/// (`DirectTurns`); any other form is left to it. These hold the two paths to the same answers.
@Suite("Turns read without the generated code")
struct DirectTurnsTests {
    static let id = "0b7c1f0e-5d4a-4f3b-9a8e-2c1d0e9f8a7b"

    static func request(accept: String? = "text/event-stream", contentType: String? = "application/json") -> HTTPRequest {
        var request = HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/api/v1/conversations/\(id)/messages")
        if let accept { request.headerFields[.accept] = accept }
        if let contentType { request.headerFields[.contentType] = contentType }
        return request
    }

    @Test("Only the frontends' form is read here: exact headers, the contract's members each of its type, stream not false")
    func whatIsRead() throws {
        func asked(_ body: String, _ request: HTTPRequest = Self.request(), id: Substring? = Substring(Self.id)) -> DirectTurns.Asked? {
            DirectTurns.asked(request, body: Array(body.utf8), id: id)
        }
        let conversation = try #require(UUID(uuidString: Self.id))
        #expect(asked(#"{"content":"hi"}"#) == .init(conversationID: conversation, content: "hi", agent: nil, model: nil))
        #expect(asked(#" { "content" : "a\"b:c" , "agent" : "x" , "model" : null , "stream" : true } "#)
                == .init(conversationID: conversation, content: "a\"b:c", agent: "x", model: nil))
        #expect(asked(#"{"stream":null,"model":"m","content":"\u00e9\ud83d\ude00"}"#)
                == .init(conversationID: conversation, content: "é😀", agent: nil, model: "m"))
        for body in [#"{"content":"a","stream":false}"#, #"{"content":5}"#, #"{}"#, #"{"content":"a","extra":1}"#, #"{"content":"a","agent":1}"#,
                     #"{"content":"a","stream":"yes"}"#, #"{"content":"a","content":"b"}"#, #"{"content":"a","agent":{"x":1}}"#, "[1]", "",
                     "not json", #"{"content":"a"} x"#, "\u{FEFF}{\"content\":\"a\"}", #"{"content":"\ud800"}"#] {
            #expect(asked(body) == nil, "\(body)")
        }
        #expect(DirectTurns.asked(Self.request(), body: [UInt8](#"{"content":"a"#.utf8) + [0xFF, 0x22, 0x7D], id: Substring(Self.id)) == nil,
                "invalid UTF-8")
        for request in [Self.request(accept: nil), Self.request(accept: "text/event-stream, application/json"), Self.request(accept: "text/event-stream;q=1"),
                        Self.request(contentType: nil), Self.request(contentType: "application/json; charset=utf-8")] {
            #expect(asked(#"{"content":"hi"}"#, request) == nil, "\(request.headerFields)")
        }
        for id in [nil, "nope", "0b7c1f0e%2D5d4a-4f3b-9a8e-2c1d0e9f8a7b"] as [Substring?] {
            #expect(asked(#"{"content":"hi"}"#, id: id) == nil, "\(id ?? "no id")")
        }
    }

    /// The events' names and the user's message as the stream carried them; a problem's code and field errors.
    static func answer(_ reply: Reply) -> String {
        guard reply.status == 200 else { return "\(reply.status) \(reply.code ?? "") \(reply.fieldErrors.sorted { $0.key < $1.key })" }
        let type = reply.headers[.contentType] ?? ""
        guard type == "text/event-stream" else {
            return "200 \(type) \(reply["status"] as? String ?? "") \((reply["messages"] as? [Any])?.count ?? 0) messages"
        }
        let lines = reply.text.split(separator: "\n")
        let names = lines.filter { $0.hasPrefix("event: ") }.map { $0.dropFirst(7) }.filter { $0 != "message.delta" }
        let user = lines.first { $0.hasPrefix("data: ") }.flatMap { JSONValue.parse(String($0.dropFirst(6))) }
        return "200 \(type) \(names) \(user?["role"]?.stringValue ?? "") \(user?["content"]?.jsonString ?? "")"
    }

    @Test("Each body answers the same read here and by the generated code: streams, problems, a JSON answer")
    func sameAnswers() async throws {
        let bodies: [[UInt8]] = [#"{"content":"hi"}"#, #"{"content":"é😀 \u2028 \"q\"","agent":null,"model":null,"stream":true}"#,
                                 #"{"content":"hi","stream":false}"#, #"{"content":""}"#, #"{"content":"a","agent":"nope"}"#,
                                 #"{"content":"a","model":"nope"}"#, #"{"content":"a","content":"b"}"#, #"{"content":5}"#,
                                 #"{"content":"a","extra":1}"#, "not json", "", #"{"content":"a\u0000b"}"#].map { Array($0.utf8) }
            + [[UInt8](#"{"content":"a"#.utf8) + [0xFF, 0x22, 0x7D]]
        let fake = try await FakeProvider.start(.openai, Array(repeating: .text("Hello there."), count: 2 * bodies.count))
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            for body in bodies {
                var answers: [String] = []
                for contentType in ["application/json", "application/json; charset=utf-8"] {
                    let conversation = try await app.conversation(user.access)
                    let reply = try await app.request(.post, "/api/v1/conversations/\(conversation)/messages", token: user.access,
                                                      headers: [.accept: "text/event-stream", .contentType: contentType], body: ByteBuffer(bytes: body))
                    answers.append(Self.answer(reply))
                }
                #expect(answers[0] == answers[1], "\(String(decoding: body, as: UTF8.self))")
            }
            // Another user's conversation and one that does not exist are 404 both ways.
            let other = try await app.signup()
            let theirs = try await app.conversation(other.access)
            for conversation in [theirs, UUID().uuidString.lowercased()] {
                var answers: [String] = []
                for contentType in ["application/json", "application/json; charset=utf-8"] {
                    let reply = try await app.request(.post, "/api/v1/conversations/\(conversation)/messages", token: user.access,
                                                      headers: [.accept: "text/event-stream", .contentType: contentType],
                                                      body: ByteBuffer(string: #"{"content":"hi"}"#))
                    answers.append(Self.answer(reply))
                }
                #expect(answers[0] == answers[1] && answers[0].hasPrefix("404"), "\(answers)")
            }
        }
    }
}
