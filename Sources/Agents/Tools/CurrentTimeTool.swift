import Core
import Foundation
import LLM

/// The current date and time, in UTC and in a time zone the model names.
public struct CurrentTimeTool: Tool {
    public static let name = "current_time"
    public var name: String { Self.name }
    public let description = "The current date and time: UTC, and local time in an IANA time zone (e.g. Europe/Paris) when given."
    public let parameters: JSONValue = [
        "type": "object",
        "properties": ["timezone": ["type": "string", "description": "An IANA time zone name, such as America/New_York."]],
        "additionalProperties": false,
    ]
    let clock: WallClock

    public init(clock: WallClock = .system) {
        self.clock = clock
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let now = clock.now
        var result: [String: JSONValue] = ["utc": .string(RFC3339.format(now, fractionalDigits: 0)),
                                           "unix": .int(Int64(now.timeIntervalSince1970.rounded(.down)))]
        let zoneName = arguments["timezone"]?.stringValue ?? "UTC"
        guard let zone = TimeZone(identifier: zoneName) else {
            throw ToolError("Unknown time zone '\(zoneName)'. Use an IANA name such as Europe/Paris or America/New_York.")
        }
        let offset = zone.secondsFromGMT(for: now)
        let shifted = Date(timeIntervalSince1970: now.timeIntervalSince1970 + Double(offset))
        // The wall-clock time in the zone: the UTC format of the shifted instant, with the zone's offset instead of Z.
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 3600, minutes = abs(offset) % 3600 / 60
        let suffix = sign + (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
        result["local"] = .string(String(RFC3339.format(shifted, fractionalDigits: 0).dropLast()) + suffix)
        result["timezone"] = .string(zoneName)
        let weekdays = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"]
        let days = Int((shifted.timeIntervalSince1970 / 86_400).rounded(.down))
        result["weekday"] = .string(weekdays[((days % 7) + 7) % 7])
        return .object(result)
    }
}
