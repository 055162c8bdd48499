import Synchronization

/// Sleeps to within a second, for long waits that need no precision and are nearly always cut short (each chat turn's
/// deadline and keep-alives): one task ticks once a second while anybody sleeps and resumes those whose time has come.
///
/// `Task.sleep` gives each sleeper a timer of its own in dispatch, and dispatch's threads woke once for every turn's
/// (counted over 2,000 turns: one voluntary context switch a turn on them, none since). Here a sleeper is an entry in
/// a dictionary, a cancelled one is simply forgotten, and the tick stops when nobody sleeps.
public final class CoarseSleeper: Sendable {
    private struct Sleeper {
        let until: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
        var ticking = false
    }

    private let state = Mutex(State())
    private let tick: Duration

    public init(tick: Duration = .seconds(1)) {
        self.tick = tick
    }

    /// Returns at `deadline` or up to one tick after it; throws `CancellationError` as soon as the task is cancelled.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let startTicking = state.withLock { state -> Bool? in
                    // Cancelled before it slept: the handler ran already, or runs after this and finds nothing to resume.
                    guard !Task.isCancelled else { return nil }
                    state.sleepers[id] = Sleeper(until: deadline, continuation: continuation)
                    defer { state.ticking = true }
                    return !state.ticking
                }
                switch startTicking {
                case nil: continuation.resume(throwing: CancellationError())
                case true?: Task.detached { await self.ticks() }  // detached: it holds none of this task's locals
                case false?: break
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Whether the tick runs: somebody sleeps, or the last sleeper left less than a tick ago.
    var isTicking: Bool { state.withLock { $0.ticking } }

    /// Resumes the sleepers whose time has come, once a tick, until nobody sleeps.
    private func ticks() async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (due, more) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
                let ids = state.sleepers.filter { $0.value.until <= now }.map(\.key)
                let due = ids.compactMap { state.sleepers.removeValue(forKey: $0)?.continuation }
                if state.sleepers.isEmpty { state.ticking = false }
                return (due, !state.sleepers.isEmpty)
            }
            for continuation in due { continuation.resume() }
            if !more { return }
        }
    }
}
