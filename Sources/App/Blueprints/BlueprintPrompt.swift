import Agents
import Blueprints
import Core
import Foundation
import LLM
import Storage

/// A blueprint agent's system prompt for one turn: its templates rendered with the turn's variables (the user's
/// profile read only when a template names it). `cache: true` prompt blocks come first, then the system prompt
/// (cacheable when it has no variables), then the other blocks: the stable text leads, where providers cache it.
struct BlueprintPrompt: SystemPromptSource {
    let blueprint: Blueprint
    let agent: BlueprintAgent
    let database: any Database
    let clock: WallClock

    private var readsProfile: Bool {
        agent.system.reads("profile") || agent.blocks.contains { $0.template.reads("profile") }
    }

    func blocks(for user: User, recollection: Recollection?) async throws -> [SystemBlock] {
        var profile: [String: JSONValue] = [:]
        if readsProfile, let spec = blueprint.profile { profile = try await ProfileRows.values(spec, userID: user.id, db: database) }
        let context = PromptVariables.context(blueprint: blueprint, agent: agent, user: user, profile: profile, now: clock.now,
                                              memories: recollection?.items ?? [], memoryCount: recollection?.count ?? 0)
        // Recalled memories go where a template puts them (`{{#memories}}`), or in a block of their own at the end.
        let placed = agent.system.reads("memories") || agent.blocks.contains { $0.template.reads("memories") }
        var blocks = agent.blocks.filter(\.cache).map { SystemBlock($0.template.render(context), cacheable: true) }
        blocks.append(SystemBlock(agent.system.render(context), cacheable: agent.system.isStatic))
        blocks += agent.blocks.filter { !$0.cache }.map { SystemBlock($0.template.render(context), cacheable: false) }
        if let recollection, !placed { blocks.append(SystemBlock(recollection.block, cacheable: false)) }
        return blocks
    }
}
