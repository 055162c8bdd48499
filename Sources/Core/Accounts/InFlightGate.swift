import Synchronization

/// Bounds how many requests of one kind run at once, per key (a client address) and in all. The failed-login and
/// signup counters are only written when an attempt ends, so without this a burst of parallel attempts from one
/// address would all pass the check and queue that many bcrypt hashes, stalling every login of the server.
final class InFlightGate: Sendable {
    private let running = Mutex<(total: Int, byKey: [String: Int])>((0, [:]))
    let perKey: Int
    let total: Int

    init(perKey: Int, total: Int) {
        self.perKey = perKey
        self.total = total
    }

    /// Runs `body` holding a place for `key`, or throws 429 at once when `key` (or the server) has no place left.
    func run<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
        let admitted = running.withLock { state -> Bool in
            let mine = state.byKey[key, default: 0]
            guard mine < perKey, state.total < total else { return false }
            state.byKey[key] = mine + 1
            state.total += 1
            return true
        }
        guard admitted else { throw AppError.rateLimited(retryAfter: 1) }
        defer {
            running.withLock { state in
                state.total -= 1
                let left = state.byKey[key, default: 1] - 1
                state.byKey[key] = left > 0 ? left : nil
            }
        }
        return try await body()
    }
}
