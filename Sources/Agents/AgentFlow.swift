import Foundation

/// A name a turn can be addressed to, like an agent's, that runs agents: an intent router choosing one of them, or a
/// pipeline running several in turn.
public enum AgentFlow: Sendable {
    case router(AgentRouter)
    case pipeline(AgentPipeline)

    public var name: String {
        switch self {
        case .router(let router): router.name
        case .pipeline(let pipeline): pipeline.name
        }
    }

    public var description: String {
        switch self {
        case .router(let router): router.description
        case .pipeline(let pipeline): pipeline.description
        }
    }

    /// Every agent it may run.
    public var agents: [String] {
        switch self {
        case .router(let router): router.agents + [router.fallback]
        case .pipeline(let pipeline): pipeline.agents
        }
    }
}

/// One model call chooses the agent that answers: it must answer one of `agents` (an enum-constrained JSON answer,
/// validated); anything else, or a failed call, gives `fallback`.
public struct AgentRouter: Sendable {
    public let name: String
    public let description: String
    /// A configured model; nil: the default model.
    public let model: String?
    public let agents: [String]
    public let fallback: String

    public init(name: String, description: String, model: String?, agents: [String], fallback: String) {
        self.name = name
        self.description = description
        self.model = model
        self.agents = agents
        self.fallback = fallback
    }
}

/// Agents answer in turn, each seeing the answers before it; then, optionally, one reply combining them.
public struct AgentPipeline: Sendable {
    public let name: String
    public let description: String
    public let agents: [String]
    public let synthesize: Bool
    /// The synthesis step's model; nil: the default model.
    public let model: String?

    public init(name: String, description: String, agents: [String], synthesize: Bool, model: String?) {
        self.name = name
        self.description = description
        self.agents = agents
        self.synthesize = synthesize
        self.model = model
    }
}

/// `agent.selected`: the agent that answers next, and why.
public struct AgentSelection: Sendable {
    public enum Reason: String, Sendable {
        /// The router chose it.
        case router
        /// The router's answer was not one of its agents (or the call failed).
        case fallback
        /// The next step of a pipeline.
        case pipeline
        /// A pipeline's closing reply.
        case synthesis
    }

    public let agent: String
    public let reason: Reason
    /// The router's or pipeline's name.
    public let flow: String
}
