import Dispatch
import Foundation
import Synchronization

/// Standard output for log lines, written in batches: a line is appended to a buffer, and a writer thread writes
/// whatever has gathered with one `write(2)` a millisecond after the first line of a batch. Under load that is one
/// system call and one wake-up of the writer for many requests instead of one each, taken off the request's thread.
/// `flush()` writes what is left and is called before the process exits (also by `atexit`, for exits that do not go
/// through `run`).
///
/// A line that comes alone (none written at once in the last millisecond, none waiting) is written at once by the
/// thread that logs it, when the output can take it without blocking: at a chat turn's pace the writer's timer and
/// wake-ups were a sixth of the turn's thread switches, for one line each.
final class LogOutput: Sendable {
    static let standardOutput = LogOutput(descriptor: 1)

    private let descriptor: Int32
    private let pending = Mutex<(bytes: [UInt8], scheduled: Bool)>(([], false))
    /// Held while writing (by the writer or a logging thread), so lines go out whole and in order; holds the time of
    /// the last line written at once.
    private let output = Mutex<ContinuousClock.Instant?>(nil)
    /// Lines longer than this go through the buffer: a pipe takes this many bytes whole once poll(2) says it has room.
    private static let atOnceLimit = 4096
    private let queue = DispatchQueue(label: "switchboard.log")
    /// Past this many unwritten bytes a line waits for the writer (a stuck pipe must not grow memory for ever).
    private let maxPending = 4 << 20

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    func write(_ line: [UInt8]) {
        if writeAtOnce(line) { return }
        let wake = pending.withLock { state -> Bool in
            state.bytes.append(contentsOf: line)
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if wake {
            queue.asyncAfter(deadline: .now() + .milliseconds(1)) { self.drain() }
        } else if pending.withLock({ $0.bytes.count }) > maxPending {
            flush()
        }
    }

    /// Writes everything buffered so far, before returning.
    func flush() {
        queue.sync { self.drain() }
    }

    /// Writes `line` now if it comes alone and the output has room; false, having written nothing, otherwise.
    private func writeAtOnce(_ line: [UInt8]) -> Bool {
        guard line.count <= Self.atOnceLimit else { return false }
        let now = ContinuousClock.now
        return output.withLockIfAvailable { last -> Bool in
            if let last, now - last < .milliseconds(1) { return false }
            guard pending.withLock({ $0.bytes.isEmpty && !$0.scheduled }) else { return false }
            var poll = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            guard Foundation.poll(&poll, 1, 0) == 1, poll.revents & Int16(POLLOUT) != 0 else { return false }
            last = now
            put(line)
            return true
        } ?? false
    }

    private func drain() {
        while true {
            let bytes = pending.withLock { state -> [UInt8] in
                let taken = state.bytes
                state.bytes.removeAll(keepingCapacity: true)
                if taken.isEmpty { state.scheduled = false }
                return taken
            }
            if bytes.isEmpty { return }
            output.withLock { _ in put(bytes) }
        }
    }

    /// Writes all of `bytes`; the caller holds `output`.
    private func put(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // a closed output: the lines have nowhere to go
                }
            }
        }
    }
}
