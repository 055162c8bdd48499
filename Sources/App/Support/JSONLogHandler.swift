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
/// Lines are written by hand, as bytes: through JSONSerialization one access line per request was the most expensive
/// part of a request (sorting keys with locale-aware comparison, formatting dates through ICU), and built as a
/// `String` each of its twenty-odd appends still cost several hundred instructions.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    /// `,"logger":"<label>"`, written once.
    private let labelMember: [UInt8]
    private let sink: Sink
    private static let redacted: [[UInt8]] = ["password", "token", "secret", "authorization", "cookie", "key"].map { Array($0.utf8) }

    private enum Sink {
        case output(LogOutput)
        case lines(@Sendable (String) -> Void)
    }

    /// Writes to standard output, whole lines, in batches (`LogOutput`).
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level, sink: .output(.standardOutput))
    }

    /// Writes what is buffered for standard output; called before the process exits.
    public static func flush() {
        LogOutput.standardOutput.flush()
    }

    /// Writes each line (JSON and a newline) with `write`, e.g. into a buffer a test inspects.
    public init(label: String, level: Logger.Level, write: @escaping @Sendable (String) -> Void) {
        self.init(label: label, level: level, sink: .lines(write))
    }

    private init(label: String, level: Logger.Level, sink: Sink) {
        var member = Array(#","logger":"#.utf8)
        JSONValue.quote(label, into: &member)
        self.labelMember = member
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = start(level: event.level, message: event.message.description)
        // Most lines come from a logger with no metadata of its own: no merge then.
        let merged = metadata.isEmpty ? event.metadata ?? [:] : event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: ","))
            JSONValue.quote(key, into: &line)
            line.append(UInt8(ascii: ":"))
            if Self.isSecret(key) {
                line.append(contentsOf: #""[redacted]""#.utf8)
            } else {
                Self.append(value, to: &line)
            }
        }
        finish(&line)
    }

    /// `{"ts":…,"level":…,"msg":…,"logger":…` and the request id when there is one: the members every line starts with.
    private func start(level: Logger.Level, message: String) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(320)
        line.append(contentsOf: #"{"ts":""#.utf8)
        RFC3339.append(Date(), to: &line)
        line.append(contentsOf: #"","level":""#.utf8)
        line.append(contentsOf: level.rawValue.utf8)
        line.append(contentsOf: #"","msg":"#.utf8)
        JSONValue.quote(message, into: &line)
        line.append(contentsOf: labelMember)
        if let requestID = RequestScope.current?.requestID {
            line.append(contentsOf: #","request_id":"#.utf8)
            JSONValue.quote(requestID, into: &line)
        }
        return line
    }

    /// Closes the line and hands it to the sink.
    private func finish(_ line: inout [UInt8]) {
        line.append(contentsOf: "}\n".utf8)
        switch sink {
        case .output(let output): output.write(line)
        case .lines(let write): write(String(decoding: line, as: UTF8.self))
        }
    }

    /// Whether `AccessLog` may write its line here directly: the handler has no metadata of its own to merge in.
    var writesAccessLines: Bool { metadata.isEmpty }

    /// The access line, byte for byte what `log` writes for `AccessLog.metadata(…)` at `info`, written without
    /// building that dictionary, sorting it and looking for secret words in its five fixed keys.
    func logAccess(method: String, path: String, status: Int, durationMicros: Int64, client: String) {
        var line = start(level: .info, message: AccessLog.message)
        line.append(contentsOf: #","client":"#.utf8)
        JSONValue.quote(client, into: &line)
        line.append(contentsOf: #","duration_ms":""#.utf8)
        line.append(contentsOf: AccessLog.milliseconds(durationMicros).utf8)
        line.append(contentsOf: #"","method":"#.utf8)
        JSONValue.quote(method, into: &line)
        line.append(contentsOf: #","path":"#.utf8)
        JSONValue.quote(path, into: &line)
        line.append(contentsOf: #","status":""#.utf8)
        line.append(contentsOf: String(status).utf8)
        line.append(UInt8(ascii: "\""))
        finish(&line)
    }

    /// Whether `key` contains one of the secret words, ignoring ASCII case (`| 0x20` lowercases ASCII letters and
    /// maps no other byte onto one). A plain byte loop over the key, once: every key of every line passes here, and
    /// the generic `firstRange(of:)` it replaces was most of a log line's cost.
    static func isSecret(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { bytes in
            for start in bytes.indices {
                let candidate = wordByFirstLetter[Int(bytes[start] | 0x20)]
                guard candidate >= 0 else { continue }
                let word = redacted[Int(candidate)]
                guard bytes.count - start >= word.count else { continue }
                var index = 1
                while index < word.count, bytes[start + index] | 0x20 == word[index] { index += 1 }
                if index == word.count { return true }
            }
            return false
        }
    }

    /// The secret word starting with each byte, by its index in `redacted`, or -1: no two of the words start with the
    /// same letter, so one look-up says which word a position can begin.
    private static let wordByFirstLetter: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, word) in redacted.enumerated() {
            precondition(table[Int(word[0])] == -1, "two secret words start with the same letter")
            table[Int(word[0])] = Int8(index)
        }
        return table
    }()

    private static func append(_ value: Logger.Metadata.Value, to line: inout [UInt8]) {
        switch value {
        case .string(let string):
            JSONValue.quote(string, into: &line)
        case .stringConvertible(let convertible):
            JSONValue.quote(convertible.description, into: &line)
        case .array(let array):
            line.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                append(element, to: &line)
            }
            line.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            line.append(UInt8(ascii: "{"))
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                JSONValue.quote(key, into: &line)
                line.append(UInt8(ascii: ":"))
                append(isSecret(key) ? .string("[redacted]") : dictionary[key]!, to: &line)
            }
            line.append(UInt8(ascii: "}"))
        }
    }
}
