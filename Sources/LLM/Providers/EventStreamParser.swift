import NIOCore

/// Reads a `text/event-stream` body as the bytes arrive, and gives the `data` of each complete event, as the HTML
/// standard's "interpreting an event stream" has it: lines end with LF, CR or CRLF; a line that starts with a colon
/// is a comment; a field's value loses one leading space; `data` lines join with LF; an empty line ends the event; an
/// event without `data` is not given; a leading byte order mark is dropped; an event the stream cut off is dropped.
/// The other fields (`event`, `id`, `retry`) are read past: no provider's decoder needs them.
///
/// It replaces three layers of generic async sequences (bytes to slices to lines to events), which cost each line
/// several suspensions and look-ups of generic metadata, and copied the rest of a chunk once for every line taken off
/// it. Here a chunk is appended once, and every byte is looked at once.
struct EventStreamParser {
    /// The most an event may hold, its unfinished line included: a provider (or whatever answers in its place) that
    /// sends an endless line fails the call instead of filling the memory.
    static let maximumEventBytes = 16 * 1024 * 1024

    /// Bytes received and not yet read, from `start` on; lines are read off the front.
    private var pending: [UInt8] = []
    private var start = 0
    /// Where to look for the end of the unfinished line: the bytes before it have been looked at.
    private var scanned = 0
    /// The last line ended with CR at the end of what had arrived: an LF that comes first is part of it.
    private var afterCR = false
    private var atStreamStart = true
    /// The event being read: its `data` lines, each followed by LF.
    private var data: [UInt8] = []
    private var hasData = false

    mutating func append(_ buffer: ByteBuffer) {
        if start == pending.count {
            pending.removeAll(keepingCapacity: true)
            start = 0
            scanned = 0
        } else if start > 4096 && start * 2 > pending.count {
            pending.removeSubrange(0..<start)
            scanned -= start
            start = 0
        }
        buffer.withUnsafeReadableBytes { pending.append(contentsOf: $0) }
    }

    /// The data of the next complete event, or nil until more bytes are appended.
    mutating func next() throws(ProviderError) -> String? {
        if atStreamStart {
            let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
            let available = pending[start...].prefix(3)
            if available.elementsEqual(byteOrderMark.prefix(available.count)) {
                if available.count < 3 { return nil }
                start += 3
                scanned = max(scanned, start)
            }
            atStreamStart = false
        }
        while true {
            if afterCR, start < pending.count {
                afterCR = false
                if pending[start] == UInt8(ascii: "\n") {
                    start += 1
                    scanned = max(scanned, start)
                }
            }
            guard let end = pending[scanned...].firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
                scanned = pending.count
                try checkSize(adding: pending.count - start)
                return nil
            }
            let lineStart = start
            start = end + 1
            scanned = start
            if pending[end] == UInt8(ascii: "\r") {
                if start < pending.count {
                    if pending[start] == UInt8(ascii: "\n") {
                        start += 1
                        scanned = start
                    }
                } else {
                    afterCR = true
                }
            }
            if lineStart == end {
                guard hasData else { continue }
                defer {
                    data.removeAll(keepingCapacity: true)
                    hasData = false
                }
                return String(decoding: data.dropLast(), as: UTF8.self)
            }
            try take(line: lineStart..<end)
        }
    }

    /// Fails when the event, with `count` bytes more, would pass `maximumEventBytes`.
    private func checkSize(adding count: Int) throws(ProviderError) {
        if data.count + count > Self.maximumEventBytes {
            throw ProviderError(.malformed, message: "A streamed event is larger than \(Self.maximumEventBytes >> 20) MiB.")
        }
    }

    /// One field line: only `data` is kept.
    private mutating func take(line: Range<Int>) throws(ProviderError) {
        let field = pending[line]
        guard field.first != UInt8(ascii: ":") else { return }
        let colon = field.firstIndex(of: UInt8(ascii: ":")) ?? line.upperBound
        guard pending[line.lowerBound..<colon].elementsEqual("data".utf8) else { return }
        var value = colon < line.upperBound ? colon + 1 : colon
        if value < line.upperBound, pending[value] == UInt8(ascii: " ") { value += 1 }
        try checkSize(adding: line.upperBound - value)
        data.append(contentsOf: pending[value..<line.upperBound])
        data.append(UInt8(ascii: "\n"))
        hasData = true
    }
}
