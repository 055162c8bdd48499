import Agents
import Foundation

/// A turn's events as the bytes of a `text/event-stream`, with a comment every 15 seconds of silence so that
/// proxies keep the connection open while a tool runs. When the client goes away only this stream stops: the turn
/// itself runs on and is stored.
enum EventStream {
    static let keepAliveInterval: Duration = .seconds(15)

    static func serverSentEvents(_ events: AsyncStream<ChatEvent>) -> AsyncStream<ArraySlice<UInt8>> {
        AsyncStream { continuation in
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var id = 0
                        for await event in events {
                            id += 1
                            continuation.yield(ChatEventEncoding.serverSentEvent(event, id: id))
                        }
                    }
                    group.addTask {
                        while true {
                            do { try await Task.sleep(for: keepAliveInterval) } catch { return }
                            continuation.yield(Array(": keep-alive\n\n".utf8)[...])
                        }
                    }
                    await group.next() // the events ended
                    group.cancelAll()
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
