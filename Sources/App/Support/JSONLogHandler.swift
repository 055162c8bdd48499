import Foundation
import Logging
import Synchronization

/// Logs as JSON lines on standard output: `{"ts", "level", "msg", "request_id", ...metadata}`.
///
/// The request id comes from `RequestScope.current`, so every line logged while a request is handled carries it,
/// whichever module logs. Metadata keys that name secrets are redacted as a last line of defence: code should not
/// log them in the first place.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let write: @Sendable (Data) -> Void
    private static let output = Mutex(())
    private static let redacted = ["password", "token", "secret", "authorization", "cookie", "key"]

    /// Writes to standard output, one whole line at a time.
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level) { line in
            JSONLogHandler.output.withLock { _ in FileHandle.standardOutput.write(line) }
        }
    }

    /// Writes each line (JSON and a newline) with `write`, e.g. into a buffer a test inspects.
    public init(label: String, level: Logger.Level, write: @escaping @Sendable (Data) -> Void) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "ts": Self.timestamp(Date()),
            "level": event.level.rawValue,
            "msg": "\(event.message)",
            "logger": label,
        ]
        if let requestID = RequestScope.current?.requestID { object["request_id"] = requestID }
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            let lowered = key.lowercased()
            object[key] = Self.redacted.contains(where: lowered.contains) ? "[redacted]" : Self.plain(value)
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        write(data)
    }

    private static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let array): array.map(plain)
        case .dictionary(let dictionary): dictionary.mapValues(plain)
        }
    }

    private static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }
}
