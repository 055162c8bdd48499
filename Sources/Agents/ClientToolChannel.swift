import Foundation
import LLM

/// The app's side of a tool it runs itself (`execute: client` in a blueprint's `client_tools:`): over a chat
/// WebSocket the server sends the call to the app and waits for its answer. Absent on plain HTTP.
public protocol ClientToolChannel: Sendable {
    /// The app's result for the call, or a `ToolError` the model reads (the app failed it, or went away).
    func run(tool: String, arguments: JSONValue) async throws -> JSONValue
}
