import Blueprints
import Foundation
import Logging
import ServiceLifecycle

/// Runs the realtime feed: every quarter second, the changes of all processes are read and sent to this process's
/// subscribers; every minute, old changes are pruned. At shutdown every open stream ends, so none holds it up.
struct RecordFeedService: Service {
    let feed: RecordFeed
    let logger: Logger
    var interval: Duration = .milliseconds(250)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var tick = 0
            while !Task.isCancelled {
                do {
                    try await feed.poll()
                    if tick % 240 == 0 { try await feed.prune() }
                } catch {
                    logger.warning("realtime feed could not read changes", metadata: ["error": "\(type(of: error))"])
                }
                tick += 1
                try? await Task.sleep(for: interval)
            }
        }
        feed.finishAll()
    }
}
