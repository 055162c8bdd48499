import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Hummingbird's per-request context, with the socket's peer address (the client address unless a trusted proxy
/// says otherwise) and the WebSocket upgrade slot of `GET /api/v1/chat/stream`.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let webSocket: WebSocketHandlerReference<AppRequestContext>
    /// The connection's event loop, where its streamed responses wait for what they write (`EventLoopTaskExecutor`).
    let eventLoop: any EventLoop
    /// The whole body, once `BodyLimit` has read it: the generated operations are handed it as bytes of
    /// known length, so nothing reads it through an async sequence again.
    var body: ByteBuffer?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.webSocket = .init()
        self.eventLoop = source.channel.eventLoop
    }
}
