import Dispatch
import Foundation
import Synchronization

/// Standard output for log lines, written in batches: a line is appended to a buffer, and a writer thread writes
/// whatever has gathered with one `write(2)` a millisecond after the first line of a batch. Under load that is one
/// system call and one wake-up of the writer for many requests instead of one each, taken off the request's thread.
/// `flush()` writes what is left and is called before the process exits (also by `atexit`, for exits that do not go
/// through `run`).
final class LogOutput: Sendable {
    static let standardOutput = LogOutput(descriptor: 1)

    private let descriptor: Int32
    private let pending = Mutex<(bytes: [UInt8], scheduled: Bool)>(([], false))
    private let queue = DispatchQueue(label: "switchboard.log")
    /// Past this many unwritten bytes a line waits for the writer (a stuck pipe must not grow memory for ever).
    private let maxPending = 4 << 20

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    func write(_ line: [UInt8]) {
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

    private func drain() {
        while true {
            let bytes = pending.withLock { state -> [UInt8] in
                let taken = state.bytes
                state.bytes.removeAll(keepingCapacity: true)
                if taken.isEmpty { state.scheduled = false }
                return taken
            }
            if bytes.isEmpty { return }
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
}
