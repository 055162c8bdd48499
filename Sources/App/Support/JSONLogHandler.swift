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
    private let write: @Sendable (String) -> Void
    private static let redacted: [[UInt8]] = ["password", "token", "secret", "authorization", "cookie", "key"].map { Array($0.utf8) }

    /// Writes to standard output, whole lines, in batches (`LogOutput`).
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level) { line in LogOutput.standardOutput.write(line) }
    }

    /// Writes what is buffered for standard output; called before the process exits.
    public static func flush() {
        LogOutput.standardOutput.flush()
    }

    /// Writes each line (JSON and a newline) with `write`, e.g. into a buffer a test inspects.
    public init(label: String, level: Logger.Level, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = ""
        line.reserveCapacity(320)
        line += "{\"ts\":\"" + RFC3339.format(Date()) + "\",\"level\":\"" + event.level.rawValue + "\",\"msg\":"
        JSONValue.quote("\(event.message)", into: &line)
        line += ",\"logger\":"
        JSONValue.quote(label, into: &line)
        if let requestID = RequestScope.current?.requestID {
            line += ",\"request_id\":"
            JSONValue.quote(requestID, into: &line)
        }
        // Most lines (the access line among them) come from a logger with no metadata of its own: no merge then.
        let merged = metadata.isEmpty ? event.metadata ?? [:] : event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += ","
            JSONValue.quote(key, into: &line)
            line += ":"
            if Self.isSecret(key) {
                line += "\"[redacted]\""
            } else {
                Self.append(value, to: &line)
            }
        }
        line += "}\n"
        write(line)
    }

    /// Whether `key` contains one of the secret words, ignoring ASCII case (`| 0x20` lowercases ASCII letters and
    /// maps no other byte onto one). A plain byte loop: every key of every line passes here, and the generic
    /// `firstRange(of:)` it replaces was most of a log line's cost.
    static func isSecret(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { bytes in
            redacted.contains { word in
                guard bytes.count >= word.count else { return false }
                for start in 0...(bytes.count - word.count) {
                    var index = 0
                    while index < word.count, bytes[start + index] | 0x20 == word[index] { index += 1 }
                    if index == word.count { return true }
                }
                return false
            }
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
