import Core
import Foundation
import LLM
import Logging
import Synchronization

/// Logs as JSON lines on standard output: `{"ts", "level", "msg", "request_id", ...metadata}`.
///
/// The request id comes from `RequestScope.current`, so every line logged while a request is handled carries it,
/// whichever module logs. Metadata keys that name secrets are redacted as a last line of defence: code should not
/// log them in the first place.
///
/// Lines are written by hand rather than through JSONSerialization: one access line per request made that the
/// most expensive part of a request (sorting keys with locale-aware comparison, formatting dates through ICU).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let write: @Sendable (Data) -> Void
    private static let output = Mutex(())
    private static let redacted: [[UInt8]] = ["password", "token", "secret", "authorization", "cookie", "key"].map { Array($0.utf8) }

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
        var line = "{\"ts\":\"" + RFC3339.format(Date()) + "\",\"level\":\"" + event.level.rawValue + "\",\"msg\":"
        JSONValue.quote("\(event.message)", into: &line)
        line += ",\"logger\":"
        JSONValue.quote(label, into: &line)
        if let requestID = RequestScope.current?.requestID {
            line += ",\"request_id\":"
            JSONValue.quote(requestID, into: &line)
        }
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        for key in merged.keys.sorted() {
            line += ","
            JSONValue.quote(key, into: &line)
            line += ":"
            if Self.isSecret(key) {
                line += "\"[redacted]\""
            } else {
                Self.append(merged[key]!, to: &line)
            }
        }
        line += "}\n"
        write(Data(line.utf8))
    }

    private static func isSecret(_ key: String) -> Bool {
        let lowered = Array(key.lowercased().utf8)
        return redacted.contains { word in
            lowered.count >= word.count && (0...(lowered.count - word.count)).contains { lowered[$0..<($0 + word.count)].elementsEqual(word) }
        }
    }

    private static func append(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let string):
            JSONValue.quote(string, into: &line)
        case .stringConvertible(let convertible):
            JSONValue.quote(convertible.description, into: &line)
        case .array(let array):
            line += "["
            for (index, element) in array.enumerated() {
                if index > 0 { line += "," }
                append(element, to: &line)
            }
            line += "]"
        case .dictionary(let dictionary):
            line += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                JSONValue.quote(key, into: &line)
                line += ":"
                append(isSecret(key) ? .string("[redacted]") : dictionary[key]!, to: &line)
            }
            line += "}"
        }
    }
}
