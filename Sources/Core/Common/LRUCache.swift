import Synchronization

/// At most `capacity` values, shared between tasks; when full, the one read or stored longest ago makes room. Eviction
/// scans every entry: meant for caches of about a thousand, where that costs microseconds.
public final class LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var used: UInt64
    }

    private let capacity: Int
    private let state = Mutex<(entries: [Key: Entry], tick: UInt64)>(([:], 0))

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public func value(for key: Key) -> Value? {
        state.withLock { state in
            guard var entry = state.entries[key] else { return nil }
            state.tick += 1
            entry.used = state.tick
            state.entries[key] = entry
            return entry.value
        }
    }

    public func store(_ value: Value, for key: Key) {
        state.withLock { state in
            state.tick += 1
            if state.entries[key] == nil, state.entries.count >= capacity,
               let oldest = state.entries.min(by: { $0.value.used < $1.value.used })?.key {
                state.entries[oldest] = nil
            }
            state.entries[key] = Entry(value: value, used: state.tick)
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }
}
