import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A real HTTP server on 127.0.0.1 and a free port, for fakes of the services Switchboard calls.
struct FakeServer {
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func start(_ router: Router<BasicRequestContext>) async throws -> FakeServer {
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "fake")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        var iterator = portStream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return FakeServer(port: port, group: group, task: task)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// Where a fake keeps its server: the fake exists first (its routes call it), the server is started after.
final class FakeServerSlot: Sendable {
    private let server = Mutex<FakeServer?>(nil)

    func hold(_ started: FakeServer) { server.withLock { $0 = started } }
    var baseURL: String { server.withLock { $0 }!.baseURL }
    func stop() async { await server.withLock { $0 }?.stop() }
}
