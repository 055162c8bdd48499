import Synchronization

/// Counts the turns running in this process, so that shutdown can wait for them: a turn whose client went away
/// still finishes and is stored.
final class TurnTracker: Sendable {
    private let running = Atomic(0)

    func begin() {
        running.add(1, ordering: .relaxed)
    }

    func end() {
        running.subtract(1, ordering: .relaxed)
    }

    var count: Int { running.load(ordering: .relaxed) }

    /// Polls: shutdown is rare, and a poll cannot be left waiting for ever the way a stored continuation can.
    func waitUntilIdle(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
