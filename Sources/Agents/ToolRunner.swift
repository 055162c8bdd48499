import Core
import Foundation
import LLM
import Logging

/// Runs the tool calls of one model step, concurrently, each checked and bounded in time. Every outcome becomes a
/// result the model can read: a tool's failure is an error result, never a failed turn.
struct ToolRunner: Sendable {
    let registry: ToolRegistry
    let timeout: Duration
    /// Results longer than this (as JSON text) are cut, so one tool cannot flood the model's context.
    let maxResultCharacters: Int

    /// Runs `calls` at once; `finished` is told of each result as it comes (in completion order). Returns the results
    /// in the order of the calls.
    func run(_ calls: [ToolCall], allowed: [String], context: ToolContext,
             finished: @escaping @Sendable (ToolResult) async -> Void) async -> [ToolResult] {
        await withTaskGroup(of: (Int, ToolResult).self) { group in
            for (index, call) in calls.enumerated() {
                group.addTask {
                    let result = await self.run(call, allowed: allowed, context: context)
                    await finished(result)
                    return (index, result)
                }
            }
            var results = [ToolResult?](repeating: nil, count: calls.count)
            for await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }

    static func failure(_ call: ToolCall, _ message: String) -> ToolResult {
        ToolResult(callID: call.id, name: call.name, content: ["error": .string(message)], isError: true)
    }

    /// The tool, or the error result the model gets instead: a tool it may not call, arguments its schema refuses.
    private func resolve(_ call: ToolCall, allowed: [String]) -> Result<any Tool, Refusal> {
        guard allowed.contains(call.name), let tool = registry.tool(named: call.name) else {
            return .failure(Refusal(result: Self.failure(call, "There is no tool named '\(call.name)'. Available tools: \(allowed.joined(separator: ", ")).")))
        }
        guard case .object = call.arguments else {
            return .failure(Refusal(result: Self.failure(call, "The arguments must be a JSON object; received: \(String(call.arguments.jsonString.prefix(200)))")))
        }
        let violations = JSONSchema.validate(call.arguments, against: tool.parameters)
        guard violations.isEmpty else {
            return .failure(Refusal(result: Self.failure(call, "Invalid arguments: " + violations.map(\.description).joined(separator: "; ") + ".")))
        }
        return .success(tool)
    }

    struct Refusal: Error {
        let result: ToolResult
    }

    /// What running `call` would be refused with, found without running it (the tool's own precheck included); nil
    /// when it may be put to the user for approval.
    func check(_ call: ToolCall, allowed: [String], context: ToolContext) async -> ToolResult? {
        let tool: any Tool
        switch resolve(call, allowed: allowed) {
        case .failure(let refusal): return refusal.result
        case .success(let found): tool = found
        }
        do {
            try await tool.precheck(call.arguments, context: context)
            return nil
        } catch let error as ToolError {
            return Self.failure(call, error.message)
        } catch {
            context.logger.error("tool check failed", metadata: ["tool": "\(call.name)", "error_type": "\(type(of: error))", "error": "\(error)"])
            return Self.failure(call, "The tool failed unexpectedly.")
        }
    }

    func run(_ call: ToolCall, allowed: [String], context: ToolContext) async -> ToolResult {
        func failure(_ message: String) -> ToolResult { Self.failure(call, message) }
        let tool: any Tool
        switch resolve(call, allowed: allowed) {
        case .failure(let refusal): return refusal.result
        case .success(let found): tool = found
        }
        let started = ContinuousClock.now
        do {
            let content = try await withThrowingTaskGroup(of: JSONValue.self) { group in
                group.addTask { try await tool.execute(call.arguments, context: context) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw ToolTimeout()
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            context.logger.info("tool ran", metadata: ["tool": "\(call.name)", "duration_ms": "\((ContinuousClock.now - started).milliseconds)"])
            return ToolResult(callID: call.id, name: call.name, content: truncated(content))
        } catch let error as ToolError {
            return failure(error.message)
        } catch is ToolTimeout {
            context.logger.warning("tool timed out", metadata: ["tool": "\(call.name)"])
            return failure("The tool did not finish within \(timeout.components.seconds) seconds.")
        } catch {
            // Internal details stay in the log; the model learns only that the tool failed.
            context.logger.error("tool failed", metadata: ["tool": "\(call.name)", "error_type": "\(type(of: error))", "error": "\(error)"])
            return failure("The tool failed unexpectedly.")
        }
    }

    private func truncated(_ content: JSONValue) -> JSONValue {
        let text = content.jsonString
        guard text.count > maxResultCharacters else { return content }
        return ["truncated": true, "note": .string("The result was cut to \(maxResultCharacters) characters."),
                "partial": .string(String(text.prefix(maxResultCharacters)))]
    }
}

private struct ToolTimeout: Error {}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
