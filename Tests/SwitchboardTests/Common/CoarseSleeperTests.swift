@testable import Core
import Foundation
import Testing

/// `CoarseSleeper` holds each chat turn's deadline and keep-alives: a sleeper must never return early, must return
/// when its time has come, must leave when cancelled without waiting for its time, and the tick must stop when nobody
/// sleeps. The upper bounds are far from the sleeps' own lengths: with the whole suite running in parallel this
/// machine's concurrency threads were seen seven seconds late, and how late is not what these tests are about.
@Suite("Coarse sleeper")
struct CoarseSleeperTests {
    static let slack: Duration = .seconds(60)

    @Test("Sleepers return at their time, not before; then the tick stops")
    func returnsOnTime() async throws {
        let sleeper = CoarseSleeper(tick: .milliseconds(100))
        let start = ContinuousClock.now
        let offsets: [Duration] = [.milliseconds(50), .milliseconds(300), .milliseconds(1_200), .zero, .milliseconds(700)]
        let woke = await withTaskGroup(of: (Duration, Duration).self) { group in
            for offset in offsets {
                group.addTask {
                    try? await sleeper.sleep(until: start + offset)
                    return (offset, ContinuousClock.now - start)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(woke.count == offsets.count)
        for (offset, at) in woke {
            #expect(at >= offset, "woke at \(at) for \(offset)")
        }
        try await Self.eventually { !sleeper.isTicking }
    }

    @Test("A cancelled sleeper leaves at once with CancellationError, and one cancelled before it slept never waits")
    func cancellation() async throws {
        let sleeper = CoarseSleeper()
        let start = ContinuousClock.now
        let long = Task { try await sleeper.sleep(until: start + .seconds(3_600)) }
        try await Task.sleep(for: .milliseconds(200))
        long.cancel()
        await #expect(throws: CancellationError.self) { try await long.value }
        #expect(ContinuousClock.now - start < Self.slack)

        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await sleeper.sleep(until: ContinuousClock.now + .seconds(3_600))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        try await Self.eventually { !sleeper.isTicking }
    }

    @Test("A thousand sleepers, half of them cancelled, all return")
    func many() async throws {
        let sleeper = CoarseSleeper(tick: .milliseconds(50))
        let start = ContinuousClock.now
        let tasks = (0..<1_000).map { index in
            Task { try await sleeper.sleep(until: start + .milliseconds(index % 2 == 0 ? 100 + index : 3_600_000)) }
        }
        for (index, task) in tasks.enumerated() where index % 2 == 1 { task.cancel() }
        var (returned, cancelled) = (0, 0)
        for task in tasks {
            do { try await task.value; returned += 1 } catch is CancellationError { cancelled += 1 }
        }
        #expect(returned == 500 && cancelled == 500)
        try await Self.eventually { !sleeper.isTicking }
    }

    /// Waits, up to `slack`, for `condition`.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + slack
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(condition())
    }
}
