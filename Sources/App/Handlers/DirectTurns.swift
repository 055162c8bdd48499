import API
import Agents
import Core
import Foundation
import HTTPTypes
import LLM
import OpenAPIRuntime

/// `sendMessage` streamed, read and started here rather than by the generated code, when the request is the case
/// every chat frontend sends: `Content-Type: application/json`, `Accept: text/event-stream`, a conversation id as
/// it is written, and a body of the contract's members only, each of its type, with `stream` not false. The
/// generated code parses both headers into MIME types (about 20 k instructions each, four times a turn) and decodes
/// the body with Foundation's `JSONDecoder` (about 35 k): with what goes around them, 8% of a plain turn's
/// instructions.
///
/// Any other request goes to the generated code, which judges it as it always has: another header, a body that is
/// not valid UTF-8 or not JSON, a member unknown, mistyped or given twice, `stream: false`, an id with escapes.
/// `DirectTurnsTests` hold the two paths to the same answers.
enum DirectTurns {
    struct Asked: Equatable {
        let conversationID: UUID
        let content: String
        let agent: String?
        let model: String?
    }

    /// The turn's answer, or nil to leave the request to the generated handler.
    static func response(_ request: HTTPRequest, body: [UInt8], metadata: ServerRequestMetadata,
                         orchestrator: Orchestrator) async throws -> (HTTPResponse, HTTPBody?)? {
        guard let asked = asked(request, body: body, id: metadata.pathParameters["id"]) else { return nil }
        let identity = try RequestScope.requireIdentity()
        let turn = try await orchestrator.start(.init(user: identity.user, conversationID: asked.conversationID, content: asked.content,
                                                      agent: asked.agent, model: asked.model))
        return (HTTPResponse(status: .ok, headerFields: [.contentType: "text/event-stream"]), streamed(turn))
    }

    /// A turn's events as the response's body, as they come.
    static func streamed(_ turn: Orchestrator.Turn) -> HTTPBody {
        HTTPBody(EventStream(turn.events), length: .unknown, iterationBehavior: .single)
    }

    /// What the request asks, when it is the case read here.
    static func asked(_ request: HTTPRequest, body: [UInt8], id: Substring?) -> Asked? {
        guard request.headerFields.value(.accept) == "text/event-stream", request.headerFields.value(.contentType) == "application/json",
              let conversationID = id.flatMap(UUID.parse),
              // The parser reads invalid UTF-8 in a string as U+FFFD, where JSONDecoder refuses the body.
              (try? UTF8Span(validating: body.span)) != nil,
              case .object(let members)? = JSONValue.parse(body), !hasRepeatedMember(body, count: members.count),
              case .string(let content)? = members["content"] else { return nil }
        var agent: String?, model: String?
        for (name, value) in members {
            switch (name, value) {
            case ("content", _), ("agent", .null), ("model", .null), ("stream", .null), ("stream", .bool(true)): continue
            case ("agent", .string(let text)): agent = text
            case ("model", .string(let text)): model = text
            default: return nil
            }
        }
        return Asked(conversationID: conversationID, content: content, agent: agent, model: model)
    }

    /// Whether the object `body` holds has more members than its `count` distinct names: the parser keeps a repeated
    /// name's last value, and which one `JSONDecoder` keeps is its own affair. Counts the colons outside strings at the
    /// object's own depth, which is every colon outside strings, as the members here hold no objects.
    private static func hasRepeatedMember(_ body: [UInt8], count: Int) -> Bool {
        var colons = 0, inString = false, escaped = false
        for byte in body {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: ":") {
                colons += 1
            }
        }
        return colons != count
    }
}
