import NIOCore
import Synchronization

/// Keeps plain statements out of open transactions on SQLite's one connection, without serialising them.
///
/// The connection runs statements on its own thread, first come first served. So a plain statement needs no lock:
/// it is handed to that thread at once, unless a transaction is open, in which case it waits for the transaction to
/// end. The check and the hand-over happen under one mutex, so no transaction can begin between them. (An async lock
/// held until the awaiting task resumes would put the scheduler's latency inside the critical section of every
/// query.)
final class TransactionGate: Sendable {
    private struct State {
        var transactionOpen = false
        var waitingStatements: [CheckedContinuation<Void, Never>] = []
        var waitingTransactions: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Hands `submit` to the connection now, or as soon as no transaction is open, and awaits its result.
    func statement(_ submit: () -> EventLoopFuture<Void>) async throws {
        while true {
            let submitted: EventLoopFuture<Void>? = state.withLock { state in
                state.transactionOpen ? nil : submit()
            }
            if let submitted { return try await submitted.get() }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let retryNow = state.withLock { state in
                    if state.transactionOpen { state.waitingStatements.append(continuation) }
                    return !state.transactionOpen
                }
                if retryNow { continuation.resume() }
            }
        }
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

    /// Lets every waiting statement through and the next transaction try again.
    private func close() {
        let (statements, transaction) = state.withLock { state in
            state.transactionOpen = false
            let statements = state.waitingStatements
            state.waitingStatements.removeAll()
            let transaction = state.waitingTransactions.isEmpty ? nil : state.waitingTransactions.removeFirst()
            return (statements, transaction)
        }
        statements.forEach { $0.resume() }
        transaction?.resume()
    }
}
