import Foundation
import Testing
@testable import Agents

/// The channel from a turn's task to its reader: everything emitted is read once, in order, in as few batches as the
/// reader's pace allows; the end and a reader that goes away both end it.
@Suite("Turn events")
struct TurnEventsTests {
    static let message = UUID()

    static func delta(_ index: Int) -> ChatEvent { .messageDelta(messageID: message, delta: "\(index)") }

    static func index(_ event: ChatEvent) -> Int? {
        if case .messageDelta(_, let delta) = event { return Int(delta) }
        return nil
    }

    @Test("Events waiting together are read as one batch, in order; the end comes after the last")
    func batches() async {
        let events = TurnEvents()
        for index in 0..<5 { events.yield(Self.delta(index)) }
        #expect(await events.nextBatch().compactMap(Self.index) == [0, 1, 2, 3, 4])
        events.yield(Self.delta(5))
        events.finish()
        events.yield(Self.delta(6))
        #expect(await events.nextBatch().compactMap(Self.index) == [5], "what came after the end is dropped")
        #expect(await events.nextBatch().isEmpty)
        #expect(await events.nextBatch().isEmpty, "the end stays the end")
    }

    @Test("A reader that waits is woken by the next event; 20,000 events from a producer racing it arrive once each, in order")
    func producerAndReader() async {
        let events = TurnEvents()
        let count = 20_000
        let producer = Task {
            for index in 0..<count {
                events.yield(Self.delta(index))
                if index % 1_000 == 0 { await Task.yield() }
            }
            events.finish()
        }
        var read: [Int] = []
        var batches = 0
        for await event in events {
            if let index = Self.index(event) { read.append(index) }
        }
        await producer.value
        #expect(read == Array(0..<count))
        // Read batch by batch too, on a second stream: fewer reads than events once the producer is ahead.
        let again = TurnEvents()
        for index in 0..<100 { again.yield(Self.delta(index)) }
        again.finish()
        var total = 0
        while true {
            let batch = await again.nextBatch()
            if batch.isEmpty { break }
            batches += 1
            total += batch.count
        }
        #expect(total == 100 && batches == 1)
    }

    @Test("A reader whose task is cancelled while it waits gets the end at once; the turn may go on emitting")
    func cancelledReader() async throws {
        let events = TurnEvents()
        let reader = Task { await events.nextBatch() }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        #expect(await reader.value.isEmpty)
        events.yield(Self.delta(1))
        events.finish()
        #expect(await events.nextBatch().isEmpty, "nobody reads any more: nothing is kept")

        let early = TurnEvents()
        let cancelledFirst = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await early.nextBatch()
        }
        #expect(await cancelledFirst.value.isEmpty, "cancelled before it waits")
    }
}
