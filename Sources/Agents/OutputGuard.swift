import Foundation
import LLM

/// Keeps an agent's prompt out of what it says: any run of `length` words (lowercased, punctuation and spacing
/// ignored) that also occurs in one of the sources (its system prompt, prompt blocks, tool schemas) is replaced by
/// `marker`. Text is checked as it streams: what could still be the start of a leaked run is held back until the next
/// words show it is not (at most `length - 1` words), so a passage split across deltas is caught all the same.
final class OutputGuard {
    static let marker = "[redacted]"

    /// A source a run was found in, for the log.
    struct Match {
        let source: String
    }

    private let length: Int
    /// Each run of `length` words of the sources -> the source it comes from.
    private let runs: [String: String]
    private var text = ""
    /// How much of `text` has been given out, as a UTF-8 offset (appending keeps it valid); never inside a
    /// redacted range.
    private var emitted = 0
    private(set) var matches: [Match] = []
    /// The whole text as given out so far.
    private(set) var output = ""

    convenience init(sources: [(name: String, text: String)], length: Int) {
        self.init(runs: GuardRuns(sources: sources, length: length))
    }

    init(runs: GuardRuns) {
        length = runs.length
        self.runs = runs.runs
    }

    /// Whether any source is long enough to leak a run of words.
    var isEmpty: Bool { runs.isEmpty }

    /// The text that is safe to send now, after `delta`.
    func add(_ delta: String) -> String {
        text += delta
        return release(final: false)
    }

    /// Everything still held back: the text is complete.
    func finish() -> String {
        release(final: true)
    }

    private func release(final: Bool) -> String {
        let words = Self.words(text)
        let lowered = words.map { text[$0].lowercased() }
        var ranges: [(range: Range<String.Index>, source: String)] = []
        if words.count >= length {
            for start in 0...(words.count - length) {
                guard let source = runs[lowered[start..<(start + length)].joined(separator: " ")] else { continue }
                let range = words[start].lowerBound..<words[start + length - 1].upperBound
                if let last = ranges.last, last.range.upperBound >= range.lowerBound {
                    ranges[ranges.count - 1].range = last.range.lowerBound..<max(last.range.upperBound, range.upperBound)
                } else {
                    ranges.append((range, source))
                }
            }
        }
        let sent = text.utf8.index(text.startIndex, offsetBy: emitted)
        var boundary = text.endIndex
        if !final {
            // A later word can still complete a run that starts at one of the last `length - 1` complete words (the
            // last word itself may be cut mid-way): those are held back, and so is a redacted range that may grow.
            let endsInWord = text.last.map { $0.isLetter || $0.isNumber } ?? false
            let first = words.count - (endsInWord ? 1 : 0) - (length - 1)
            boundary = first > 0 ? words[first].lowerBound : sent
            if let open = ranges.first(where: { $0.range.lowerBound < boundary && $0.range.upperBound > boundary }) {
                boundary = open.range.lowerBound
            }
        }
        guard boundary > sent else { return "" }
        var piece = ""
        var position = sent
        for (range, source) in ranges where range.lowerBound >= sent && range.lowerBound < boundary {
            piece += text[position..<range.lowerBound]
            piece += Self.marker
            position = range.upperBound
            matches.append(Match(source: source))
        }
        if position < boundary { piece += text[position..<boundary] }
        emitted = text.utf8.distance(from: text.startIndex, to: boundary)
        output += piece
        return piece
    }

    /// Runs of letters and digits.
    static func words(_ text: String) -> [Range<String.Index>] {
        var words: [Range<String.Index>] = []
        var start: String.Index?
        var index = text.startIndex
        while index < text.endIndex {
            let isWord = text[index].isLetter || text[index].isNumber
            if isWord, start == nil { start = index }
            if !isWord, let begun = start {
                words.append(begun..<index)
                start = nil
            }
            index = text.index(after: index)
        }
        if let begun = start { words.append(begun..<text.endIndex) }
        return words
    }
}

/// The runs of words an output guard looks for, built once from its sources: for text that is checked whole (a
/// plan's strings) rather than as it streams.
public struct GuardRuns: Sendable {
    let length: Int
    /// Each run of `length` words of the sources -> the source it comes from.
    let runs: [String: String]

    public init(sources: [(name: String, text: String)], length: Int) {
        self.length = max(2, length)
        var runs: [String: String] = [:]
        for source in sources {
            let words = OutputGuard.words(source.text).map { source.text[$0].lowercased() }
            guard words.count >= self.length else { continue }
            for start in 0...(words.count - self.length) {
                let run = words[start..<(start + self.length)].joined(separator: " ")
                if runs[run] == nil { runs[run] = source.name }
            }
        }
        self.runs = runs
    }

    /// `text` with every run of the sources replaced by the marker, and the sources the runs came from.
    public func redact(_ text: String) -> (text: String, sources: [String]) {
        guard !runs.isEmpty else { return (text, []) }
        let outputGuard = OutputGuard(runs: self)
        let safe = outputGuard.add(text) + outputGuard.finish()
        return (safe, outputGuard.matches.map(\.source))
    }

    /// Every string in `value` redacted, and the sources the runs came from.
    public func redact(_ value: JSONValue) -> (value: JSONValue, sources: [String]) {
        switch value {
        case .string(let text):
            let (safe, sources) = redact(text)
            return (.string(safe), sources)
        case .array(let items):
            let redacted = items.map(redact)
            return (.array(redacted.map(\.value)), redacted.flatMap(\.sources))
        case .object(let fields):
            var sources: [String] = []
            let safe = fields.mapValues { field in
                let (value, found) = redact(field)
                sources += found
                return value
            }
            return (.object(safe), sources)
        default:
            return (value, [])
        }
    }
}
