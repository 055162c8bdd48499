import Agents
import Blueprints
import Core
import Foundation
import LLM

/// A blueprint's `{when: condition}` over a collection tool's call: the condition reads the record fields the call
/// would write (`@body.status`, or `status`: the create's fields, the update's changes) and the app's flags.
struct RecordApprovalCondition: ApprovalCondition {
    let text: String
    let collection: CollectionSpec
    let operation: ToolOperation
    let flags: [String: Bool]
    let clock: WallClock

    func holds(for arguments: JSONValue) -> Bool {
        let fields = (operation == .update ? arguments["changes"] : arguments)?.objectValue ?? [:]
        let context = FilterContext(nowMillis: clock.now.millis, auth: [:], body: fields, flags: flags)
        // Checked when the blueprint loaded; a condition that still cannot be read asks the user rather than not.
        guard let expression = try? FilterParser.parse(text, context: context) else { return true }
        return FilterMatch(collection: collection).matches(expression, .object(fields))
    }

    /// The blueprint agent's approvals as the orchestrator applies them.
    static func rules(_ agent: BlueprintAgent, blueprint: Blueprint, clock: WallClock) -> [String: ApprovalRule] {
        var rules: [String: ApprovalRule] = [:]
        for (tool, approval) in agent.approvals {
            switch approval {
            case .never: rules[tool] = .never
            case .always: rules[tool] = .always
            case .when(let text):
                let target = blueprint.collections.lazy.flatMap { collection in ToolOperation.allCases.map { (collection, $0) } }
                    .first { collection, operation in operation.toolName(collection.name) == tool }
                rules[tool] = target.map { collection, operation in
                    .when(RecordApprovalCondition(text: text, collection: collection, operation: operation, flags: blueprint.flags, clock: clock))
                } ?? .always
            }
        }
        return rules
    }
}
