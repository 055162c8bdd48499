import Synchronization

/// Keeps plain statements out of open transactions on SQLite's one connection, without serialising them.
///
/// The connection runs statements on its own thread, first come first served. So a plain statement needs no lock:
/// it is handed to that thread at once, unless a transaction is open, in which case it is handed over when the
/// transaction ends. The check and the hand-over happen under one mutex, so no transaction can begin between them.
/// (An async lock held until the awaiting task resumes would put the scheduler's latency inside the critical section
/// of every query.)
final class TransactionGate: Sendable {
    private struct State {
        var transactionOpen = false
        var waitingStatements: [@Sendable () -> Void] = []
        var waitingTransactions: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Calls `handOver` (which gives a statement to the connection's thread) now, or as soon as no transaction is
    /// open.
    func submit(_ handOver: @escaping @Sendable () -> Void) {
        state.withLock { state in
            if state.transactionOpen { state.waitingStatements.append(handOver) } else { handOver() }
        }
    }

    /// Whether a transaction is open now.
    var isOpen: Bool {
        state.withLock { $0.transactionOpen }
    }

    /// Runs `body` as the only transaction, with no plain statement handed over meanwhile.
    func transaction<T>(_ body: () async throws -> T) async throws -> T {
        while true {
            let opened = state.withLock { state in
                if state.transactionOpen { return false }
                state.transactionOpen = true
                return true
            }
            if opened { break }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let retryNow = state.withLock { state in
                    if state.transactionOpen { state.waitingTransactions.append(continuation) }
                    return !state.transactionOpen
                }
                if retryNow { continuation.resume() }
            }
        }
        defer { close() }
        return try await body()
    }

    /// Hands every waiting statement over (under the lock, so that they run before any later transaction begins) and
    /// lets the next transaction try again.
    private func close() {
        let transaction = state.withLock { state in
            state.transactionOpen = false
            state.waitingStatements.forEach { $0() }
            state.waitingStatements.removeAll()
            return state.waitingTransactions.isEmpty ? nil : state.waitingTransactions.removeFirst()
        }
        transaction?.resume()
    }
}
