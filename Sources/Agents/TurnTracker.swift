import Foundation
import Synchronization

/// The turns running in this process, so that shutdown can wait for them (a turn whose client went away still
/// finishes and is stored) and, past its patience, stop them cleanly.
final class TurnTracker: Sendable {
    private let running = Mutex<[UUID: Task<Void, Never>]>([:])
    /// Stateless turns running per user: with no conversation to claim in the database, they are bounded here, in
    /// this process.
    private let stateless = Mutex<[UUID: Int]>([:])

    /// Counts a stateless turn of `user` in, unless `max` run already.
    func claimStateless(user: UUID, max: Int) -> Bool {
        stateless.withLock { counts in
            guard counts[user, default: 0] < max else { return false }
            counts[user, default: 0] += 1
            return true
        }
    }

    func releaseStateless(user: UUID) {
        stateless.withLock { counts in
            let left = counts[user, default: 1] - 1
            counts[user] = left > 0 ? left : nil
        }
    }

    func begin(_ id: UUID, _ task: Task<Void, Never>) {
        running.withLock { $0[id] = task }
    }

    func end(_ id: UUID) {
        running.withLock { $0[id] = nil }
    }

    var count: Int { running.withLock { $0.count } }

    /// Polls: shutdown is rare, and a poll cannot be left waiting for ever the way a stored continuation can.
    func waitUntilIdle(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Cancels every running turn: each stores what it has and releases its conversation.
    func cancelAll() {
        running.withLock { $0.values.forEach { $0.cancel() } }
    }
}
