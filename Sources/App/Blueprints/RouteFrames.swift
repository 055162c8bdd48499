import Blueprints
import Foundation
import LLM

/// A WebSocket chat route's own frames (`frames:`): a frame per piece of the answer, and a final frame per turn
/// filled from the turn's result; a failed turn's final frame has `status` "error" and empty values (its error frame
/// has told why).
struct RouteFrames: SocketFrameShape {
    let frames: ChatRoute.SocketFrames
    let blueprint: Blueprint

    func delta(_ text: String) -> String? {
        frames.delta.map { Self.frame($0, values: [:], delta: text).jsonString }
    }

    func final(_ outcome: CollectedTurn.Outcome?) -> String {
        let values = outcome.map { ChatRoutes.values($0, blueprint: blueprint) }
            ?? [.messageText: "", .messages: [], .actions: [], .approvals: [], .status: "error"]
        return Self.frame(frames.final, values: values, delta: nil).jsonString
    }

    static func frame(_ fields: [String: ChatRoute.FrameValue], values: [ChatRoute.Source: JSONValue], delta: String?) -> JSONValue {
        .object(fields.mapValues { value in
            switch value {
            case .delta: delta.map(JSONValue.string) ?? .null
            case .source(let source): values[source] ?? .null
            case .constant(let constant): constant
            }
        })
    }
}
