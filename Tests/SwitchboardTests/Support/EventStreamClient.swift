import AsyncHTTPClient
import Foundation
import LLM
import NIOCore
import OpenAPIRuntime

/// One server-sent event as a client reads it off the socket.
struct ReceivedEvent: Sendable {
    let name: String
    let id: Int
    let data: JSONValue
}

/// Sends a chat message to a live server and reads the reply as server-sent events, with a real SSE parser
/// (OpenAPIRuntime's), over a real socket.
enum EventStreamClient {
    static func request(port: Int, conversation: String, content: String, token: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/conversations/\(conversation)/messages")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        request.body = .bytes(ByteBuffer(bytes: JSONValue.object(["content": .string(content)]).jsonData))
        return request
    }

    /// Every event until the stream ends (or `stopAfter` says to stop reading: the client hangs up).
    static func events(port: Int, conversation: String, content: String, token: String,
                       stopAfter: @Sendable (ReceivedEvent) -> Bool = { _ in false }) async throws -> (status: Int, events: [ReceivedEvent]) {
        let response = try await HTTPClient.shared.execute(request(port: port, conversation: conversation, content: content, token: token),
                                                           timeout: .seconds(60))
        guard response.status == .ok else { return (Int(response.status.code), []) }
        #expect(response.headers.first(name: "content-type") == "text/event-stream")
        // Kept out of caches and proxy buffers, or a proxy holds the events back until the turn ends.
        #expect(response.headers.first(name: "cache-control") == "no-cache")
        #expect(response.headers.first(name: "x-accel-buffering") == "no")
        var received: [ReceivedEvent] = []
        for try await event in response.body.map({ ArraySlice($0.readableBytesView) }).asDecodedServerSentEvents() {
            // A keep-alive comment (sent when the stream idles 15 s, as a slow, loaded machine makes it) is no event.
            if event.event == nil, event.id == nil, event.data == nil { continue }
            let parsed = ReceivedEvent(name: event.event ?? "", id: Int(event.id ?? "") ?? -1,
                                       data: event.data.flatMap(JSONValue.parse) ?? .null)
            received.append(parsed)
            if stopAfter(parsed) { break }
        }
        return (200, received)
    }
}

import Testing
