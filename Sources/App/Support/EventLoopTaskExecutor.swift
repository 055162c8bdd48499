import Hummingbird
import NIOCore

/// Runs a task's jobs on one event loop: the loop of the connection a streamed response is written to.
///
/// A streamed chat answer waits for the turn's events and writes them to its connection. On Swift's concurrency pool
/// each batch of events took two hand-offs, each waking a sleeping thread: the turn to the pool thread that waits,
/// then that thread to the connection's event loop. Waiting on the event loop itself takes one, and the write then
/// happens in place. Only the writing of streamed bodies runs here (`streamed(_:on:)`): everything on the event loops
/// was measured to lose under load, where the loops have their sockets to serve.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }

    /// A response body that writes `chunks` as they come, waiting for them on `eventLoop`.
    static func streamed<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks, on eventLoop: any EventLoop) -> ResponseBody
    where Chunks.Element == ByteBuffer {
        let executor = EventLoopTaskExecutor(eventLoop)
        return ResponseBody { writer in
            try await withTaskExecutorPreference(executor) {
                for try await chunk in chunks { try await writer.write(chunk) }
                try await writer.finish(nil)
            }
        }
    }
}
