import Hummingbird
import NIOCore

/// Hummingbird's per-request context, with the socket's peer address (the client address unless a trusted proxy
/// says otherwise).
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
