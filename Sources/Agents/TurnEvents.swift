import Synchronization

/// A turn's events, from the turn's task to the one reader that streams them (SSE, a WebSocket, or a collected JSON
/// answer). The turn never waits here: events are kept until read, however slow the reader.
///
/// Unlike `AsyncStream`, the reader takes every event that is waiting at once (`nextBatch`): the events a model's
/// chunk produces together (several deltas, a message and `done`) then go to the client in one write, one hand-off to
/// the connection's event loop instead of one for each event.
public final class TurnEvents: AsyncSequence, Sendable {
    public typealias Element = ChatEvent

    private struct State {
        var ready: [ChatEvent] = []
        /// The turn emitted its last event, or the reader stopped reading.
        var finished = false
        /// The reader, waiting for an event.
        var waiter: UnsafeContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    /// Emits `event`; nothing happens once the stream has finished.
    public func yield(_ event: ChatEvent) {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.ready.append(event)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Ends the stream: the reader gets what is waiting, then the end.
    public func finish() {
        state.withLock { state -> UnsafeContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    /// Every event emitted since the last call, in order, waiting while there is none; empty at the end of the stream.
    /// When the reader's task is cancelled (its client went away) the stream ends for it, as `AsyncStream`'s did; the
    /// turn runs on.
    public func nextBatch() async -> [ChatEvent] {
        while true {
            let taken = state.withLock { state -> [ChatEvent]? in
                if !state.ready.isEmpty {
                    defer { state.ready = [] }
                    return state.ready
                }
                return state.finished ? [] : nil
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    let wait = state.withLock { state in
                        guard state.ready.isEmpty, !state.finished else { return false }
                        state.waiter = continuation
                        return true
                    }
                    if !wait { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state -> UnsafeContinuation<Void, Never>? in
                    state.finished = true
                    state.ready = []
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let events: TurnEvents
        var batch: [ChatEvent] = []
        var position = 0

        public mutating func next() async -> ChatEvent? {
            if position == batch.count {
                batch = await events.nextBatch()
                position = 0
                if batch.isEmpty { return nil }
            }
            defer { position += 1 }
            return batch[position]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(events: self)
    }
}
