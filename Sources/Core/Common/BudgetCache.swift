import Synchronization

/// Values kept in memory while they fit a budget of bytes, the least recently used going first. What a value is
/// worth (its version, how far it reaches) is the caller's to judge: `value(for:where:)` hands out only what the caller
/// accepts. The bytes are the caller's estimate of what the value holds.
public final class BudgetCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Slot: Sendable {
        let value: Value
        let bytes: Int
        var used: UInt64
    }

    private struct State: Sendable {
        var slots: [Key: Slot] = [:]
        var tick: UInt64 = 0
        var bytes = 0
    }

    private let budgetBytes: Int
    private let state = Mutex(State())

    public init(budgetBytes: Int) {
        self.budgetBytes = budgetBytes
    }

    /// The value held for `key` if `accept` takes it; it counts as just used.
    public func value(for key: Key, where accept: (Value) -> Bool = { _ in true }) -> Value? {
        state.withLock { state in
            guard var slot = state.slots[key], accept(slot.value) else { return nil }
            state.tick += 1
            slot.used = state.tick
            state.slots[key] = slot
            return slot.value
        }
    }

    /// Holds `value` for `key` (unless what is held already is one `keep` prefers), then lets the least recently used
    /// others go until the budget holds. The one just stored stays even alone over budget: it is about to be used.
    public func store(_ value: Value, bytes: Int, for key: Key, unless keep: (_ held: Value) -> Bool = { _ in false }) {
        state.withLock { state in
            if let held = state.slots[key] {
                guard !keep(held.value) else { return }
                state.bytes -= held.bytes
            }
            state.tick += 1
            state.slots[key] = Slot(value: value, bytes: bytes, used: state.tick)
            state.bytes += bytes
            while state.bytes > budgetBytes, state.slots.count > 1,
                  let oldest = state.slots.lazy.filter({ $0.key != key }).min(by: { $0.value.used < $1.value.used }) {
                state.bytes -= oldest.value.bytes
                state.slots[oldest.key] = nil
            }
        }
    }

    public func remove(_ key: Key) {
        state.withLock { state in
            if let held = state.slots.removeValue(forKey: key) { state.bytes -= held.bytes }
        }
    }

    public var residentBytes: Int { state.withLock { $0.bytes } }
}
