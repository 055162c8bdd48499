import Core
import Foundation
import LLM

/// Searches the calling user's own messages, across their conversations.
public struct ConversationSearchTool: Tool {
    public static let name = "conversation_search"
    public var name: String { Self.name }
    public let description = """
        Search the user's earlier messages (all their conversations) for a word or phrase. Returns the newest matches \
        with their conversation and a snippet.
        """
    public let parameters: JSONValue = [
        "type": "object",
        "properties": [
            "query": ["type": "string", "minLength": 2, "maxLength": 200, "description": "Text to look for (case-insensitive)."],
            "limit": ["type": "integer", "minimum": 1, "maximum": 20, "description": "How many matches to return (default 5)."],
        ],
        "required": ["query"],
        "additionalProperties": false,
    ]
    let conversations: ConversationStore

    public init(conversations: ConversationStore) {
        self.conversations = conversations
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let query = arguments["query"]?.stringValue ?? ""
        let hits = try await conversations.search(userID: context.userID, query: query, limit: arguments["limit"]?.intValue ?? 5)
        return ["query": .string(query), "results": .array(hits.map { hit in
            [
                "conversation_id": .string(hit.message.conversationID.lowercased),
                "conversation_title": hit.conversationTitle.map(JSONValue.string) ?? .null,
                "message_id": .string(hit.message.id.lowercased),
                "role": .string(hit.message.role.rawValue),
                "created_at": .string(RFC3339.format(hit.message.createdAt, fractionalDigits: 0)),
                "snippet": .string(Self.snippet(hit.message.searchableText, around: query)),
            ]
        })]
    }

    /// About 200 characters of `text` around the first occurrence of `query`.
    static func snippet(_ text: String, around query: String) -> String {
        guard let range = text.range(of: query, options: .caseInsensitive) else { return String(text.prefix(200)) }
        let start = text.index(range.lowerBound, offsetBy: -80, limitedBy: text.startIndex) ?? text.startIndex
        let end = text.index(range.upperBound, offsetBy: 120, limitedBy: text.endIndex) ?? text.endIndex
        return (start > text.startIndex ? "…" : "") + text[start..<end] + (end < text.endIndex ? "…" : "")
    }
}
