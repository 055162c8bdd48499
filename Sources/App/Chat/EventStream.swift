import Agents
import Foundation

/// A turn's events as the bytes of a `text/event-stream`, encoded as the connection reads them: no task of its own;
/// the events that wait together become one chunk.
/// The turn's `keepAlive` becomes a comment line, so that proxies keep the connection open while a tool runs. When
/// the client goes away only this stream stops: the turn itself runs on and is stored.
struct EventStream: AsyncSequence, Sendable {
    /// Also the silence after which a collection's event stream sends its comment.
    static let keepAliveInterval = ChatEvent.keepAliveInterval
    /// The comment both event streams send to stay open: no event to a client.
    static let keepAliveComment = ": keep-alive\n\n"

    let events: TurnEvents

    init(_ events: TurnEvents) {
        self.events = events
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let events: TurnEvents
        /// The events' `id`, numbering the turn's events from 1 (keep-alive comments are not events).
        var id = 0

        /// The events that were waiting, together: one write to the connection for all of them.
        mutating func next() async -> ArraySlice<UInt8>? {
            let batch = await events.nextBatch()
            if batch.isEmpty { return nil }
            var bytes: [UInt8] = []
            for event in batch {
                if case .keepAlive = event {
                    bytes += Self.keepAlive
                } else {
                    id += 1
                    ChatEventEncoding.serverSentEvent(event, id: id, into: &bytes)
                }
            }
            return bytes[...]
        }

        static let keepAlive = Array(keepAliveComment.utf8)
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(events: events)
    }
}
