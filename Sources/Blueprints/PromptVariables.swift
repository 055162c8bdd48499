import Core
import Foundation
import LLM

/// What a blueprint's prompt templates may read: one definition for the check when the blueprint loads (a sample of
/// each variable) and for each turn (the values).
///
/// - `app.name`, `app.title`; `agent.name`, `agent.description`
/// - `today` (`2026-12-02`, UTC) and `now` (RFC 3339)
/// - `user.id`, `user.email`, `user.name`, `user.tier`, `user.role`
/// - `profile.<field>`: the user's profile record (null before it is written)
/// - `flags.<name>`: the app's flags as configured
/// - `memories` (a list of `{text, score}`) and `memory_count`: what a `memory: auto` agent recalled (empty otherwise)
public enum PromptVariables {
    public static func sample(profile: [Field], flags: [String: Bool]) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        for field in profile { fields[field.name] = .null }
        return values(app: ("", ""), agent: ("", ""), now: Date(timeIntervalSince1970: 0),
                      user: ["id": "", "email": "", "name": "", "tier": "", "role": ""], profile: fields, flags: flags,
                      memories: [["text": "", "score": 0]], memoryCount: 0)
    }

    public static func context(blueprint: Blueprint, agent: BlueprintAgent, user: User, profile: [String: JSONValue], now: Date,
                               memories: [(text: String, score: Float)], memoryCount: Int) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        for field in blueprint.profile?.fields ?? [] { fields[field.name] = profile[field.name] ?? .null }
        let person: [String: JSONValue] = ["id": .string(user.id.lowercased), "email": user.email.map(JSONValue.string) ?? .null,
                                           "name": user.name.map(JSONValue.string) ?? .null, "tier": .string(user.tier), "role": .string(user.role)]
        return values(app: (blueprint.name, blueprint.title), agent: (agent.name, agent.description), now: now, user: person,
                      profile: fields, flags: blueprint.flags,
                      memories: memories.map { ["text": .string($0.text), "score": .double((Double($0.score) * 1000).rounded() / 1000)] },
                      memoryCount: memoryCount)
    }

    private static func values(app: (name: String, title: String), agent: (name: String, description: String), now: Date,
                               user: [String: JSONValue], profile: [String: JSONValue], flags: [String: Bool], memories: [JSONValue],
                               memoryCount: Int) -> JSONValue {
        [
            "app": ["name": .string(app.name), "title": .string(app.title)],
            "agent": ["name": .string(agent.name), "description": .string(agent.description)],
            "today": .string(String(RFC3339.format(now, fractionalDigits: 0).prefix(10))),
            "now": .string(RFC3339.format(now, fractionalDigits: 0)),
            "user": .object(user),
            "profile": .object(profile),
            "flags": .object(flags.mapValues(JSONValue.bool)),
            "memories": .array(memories),
            "memory_count": .int(Int64(memoryCount)),
        ]
    }
}
