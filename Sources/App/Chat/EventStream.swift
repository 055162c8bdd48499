import Agents
import Foundation

/// A turn's events as the bytes of a `text/event-stream`, encoded as the connection reads them: no task of its own.
/// The turn's `keepAlive` becomes a comment line, so that proxies keep the connection open while a tool runs. When
/// the client goes away only this stream stops: the turn itself runs on and is stored.
struct EventStream: AsyncSequence, Sendable {
    /// Also the silence after which a collection's event stream sends its comment.
    static let keepAliveInterval = ChatEvent.keepAliveInterval
    /// The comment both event streams send to stay open: no event to a client.
    static let keepAliveComment = ": keep-alive\n\n"

    let events: AsyncStream<ChatEvent>

    init(_ events: AsyncStream<ChatEvent>) {
        self.events = events
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var events: AsyncStream<ChatEvent>.AsyncIterator
        /// The events' `id`, numbering the turn's events from 1 (keep-alive comments are not events).
        var id = 0

        mutating func next() async -> ArraySlice<UInt8>? {
            guard let event = await events.next() else { return nil }
            if case .keepAlive = event { return Self.keepAlive }
            id += 1
            return ChatEventEncoding.serverSentEvent(event, id: id)
        }

        static let keepAlive = Array(keepAliveComment.utf8)[...]
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(events: events.makeAsyncIterator())
    }
}
