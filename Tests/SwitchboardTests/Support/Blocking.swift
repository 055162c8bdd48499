import Foundation

/// Runs blocking work (reading a pipe, waiting for a process) on a thread of its own.
///
/// On the cooperative pool it would hold one of only two threads on these machines, and a child process that never
/// exits would starve every other test instead of failing one.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}
