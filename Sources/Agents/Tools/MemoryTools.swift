import Core
import Foundation
import LLM

/// The user's semantic memory as tools: `memory_search`, `memory_save`, `memory_update`, `memory_delete`. Each acts
/// for the turn's user through `Memories`, as the REST routes do (validation, duplicates, quota, budget). Texts come
/// back marked as the user's data, never instructions.
public struct MemoryTool: Tool {
    public enum Operation: String, CaseIterable, Sendable {
        case search, save, update, delete

        public var toolName: String { "memory_" + rawValue }
    }

    public let operation: Operation
    let memories: Memories
    let accounts: Accounts

    public init(_ operation: Operation, memories: Memories, accounts: Accounts) {
        self.operation = operation
        self.memories = memories
        self.accounts = accounts
    }

    public static func all(memories: Memories, accounts: Accounts) -> [any Tool] {
        Operation.allCases.map { MemoryTool($0, memories: memories, accounts: accounts) }
    }

    public var name: String { operation.toolName }

    public var description: String {
        switch operation {
        case .search: "Search what you remember about the user, by meaning: the closest memories with a score from -1 to 1."
        case .save: "Remember a fact about the user for later conversations (one short statement). A memory stored already is not stored twice."
        case .update: "Correct a memory by its id with new text."
        case .delete: "Forget a memory by its id."
        }
    }

    private static let namespace: JSONValue = ["type": "string", "maxLength": 64, "description": "A group such as facts or notes (default: default)."]
    private static let tags: JSONValue = ["type": "array", "maxItems": 20, "items": ["type": "string", "maxLength": 64]]
    private static let id: JSONValue = ["type": "string", "format": "uuid"]

    public var parameters: JSONValue {
        switch operation {
        case .search:
            ["type": "object", "additionalProperties": false, "required": ["query"], "properties": [
                "query": ["type": "string", "minLength": 1, "maxLength": 2000], "namespace": Self.namespace, "tags": Self.tags,
                "limit": ["type": "integer", "minimum": 1, "maximum": .int(Int64(Memories.maxLimit))],
            ]]
        case .save:
            ["type": "object", "additionalProperties": false, "required": ["text"], "properties": [
                "text": ["type": "string", "minLength": 1, "maxLength": 2000], "namespace": Self.namespace, "tags": Self.tags,
            ]]
        case .update:
            ["type": "object", "additionalProperties": false, "required": ["id", "text"], "properties": [
                "id": Self.id, "text": ["type": "string", "minLength": 1, "maxLength": 2000],
            ]]
        case .delete:
            ["type": "object", "additionalProperties": false, "required": ["id"], "properties": ["id": Self.id]]
        }
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        guard let user = try await accounts.user(id: context.userID) else { throw ToolError("The user no longer exists.") }
        let id = arguments["id"]?.stringValue.flatMap(UUID.parse)
        do {
            switch operation {
            case .search:
                let found = try await memories.search(query: arguments["query"]?.stringValue, vector: nil, user: user,
                                                      namespace: arguments["namespace"]?.stringValue, tags: Self.strings(arguments["tags"]) ?? [],
                                                      limit: arguments["limit"]?.intValue ?? 5, minScore: nil)
                let items: [JSONValue] = found.map { hit in
                    let score = (Double(hit.score) * 1000).rounded() / 1000
                    return .object(["id": .string(hit.memory.id.lowercased), "text": .string(hit.memory.text),
                                    "namespace": .string(hit.memory.namespace), "score": .double(score)])
                }
                return ["data": .array(items)]
            case .save:
                let (memory, duplicate) = try await memories.save(.init(text: arguments["text"]?.stringValue ?? "", namespace: arguments["namespace"]?.stringValue,
                                                                        tags: Self.strings(arguments["tags"]), metadata: nil), user: user)
                return ["data": ["id": .string(memory.id.lowercased), "duplicate": .bool(duplicate)]]
            case .update:
                let memory = try await memories.update(id: id ?? UUID.random(), user: user, text: arguments["text"]?.stringValue, tags: nil, metadata: nil)
                return ["data": ["id": .string(memory.id.lowercased), "text": .string(memory.text)]]
            case .delete:
                try await memories.delete(id: id ?? UUID.random(), user: user)
                return ["data": ["deleted": .string(id?.lowercased ?? "")]]
            }
        } catch let error as AppError {
            let fields = error.fieldErrors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
            throw ToolError((error.detail ?? error.title) + (fields.isEmpty ? "" : " (" + fields + ")"))
        }
    }

    /// Before a call waits for approval: the memory must be one the user has.
    public func precheck(_ arguments: JSONValue, context: ToolContext) async throws {
        guard [.update, .delete].contains(operation), let user = try await accounts.user(id: context.userID) else { return }
        do {
            _ = try await memories.find(id: arguments["id"]?.stringValue.flatMap(UUID.parse) ?? UUID.random(), user: user)
        } catch {
            throw ToolError("There is no memory with this id.")
        }
    }

    private static func strings(_ value: JSONValue?) -> [String]? {
        value?.arrayValue?.compactMap(\.stringValue)
    }
}
