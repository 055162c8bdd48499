import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Request heads that Hummingbird's HTTP/1 server with WebSocket upgrade would leave unanswered or answer without a
/// problem document, set right by `Watch`, a handler right after the HTTP decoder.
///
/// **Heads NIO's parser refuses.** NIO refuses a request line and headers past 80 KiB (a long enough query string,
/// say), or bytes that are not HTTP/1.1. Left to Hummingbird, such a request is answered with an empty 400 when it
/// follows another on its connection, and not at all when it is the connection's first: the upgrade handler,
/// waiting for a first head that never comes, holds the connection open with no answer. So `Watch` turns the
/// decoder's error between two requests into one last request of the connection, marked with this process's secret
/// (`field`); `RequestScopeMiddleware` answers it with `problem(in:)`. A parse error inside a request (a bad chunk,
/// say) reaches whoever reads the body, and `Problem` answers it with `appError(for:)`.
///
/// **Upgrades that are not WebSocket handshakes.** NIO's upgrade handler (2.101) drops a connection's first head when
/// it names an `Upgrade` that no upgrader takes or whose handshake is incomplete: `curl --http2` (`Upgrade: h2c`) got
/// an empty reply from every route. A first head whose `Upgrade` is anything but a complete WebSocket handshake to
/// one of the socket paths has the header taken out, and is served as the plain HTTP/1.1 request it also is (a
/// server may ignore `Upgrade`): on a socket path, that is 401 or 426 `websocket_required`.
enum HeadWatch {
    /// Hummingbird's HTTP/1 server with WebSocket upgrade, with `Watch` after the HTTP decoder and `RequestHeadCodec`
    /// in place of the HTTP/1-to-HTTPTypes codec.
    static func server(webSocketRouter: Router<AppRequestContext>, socketPaths: Set<String>,
                       configuration: HTTP1WebSocketUpgradeChannel.Configuration) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        var http1 = configuration.http1
        let additional = http1.additionalChannelHandlers
        http1.additionalChannelHandlers = { [RequestHeadCodec()] + additional() }
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(http1: http1, ws: configuration.ws)
        return HTTPServerBuilder { responder in
            Watched(base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                    socketPaths: socketPaths)
        }
    }

    static let field = HTTPField.Name("Switchboard-Unreadable-Head")!
    /// A client that sends the field itself only gets its own request refused, but without the secret it cannot
    /// even do that.
    private static let secret = UUID().uuidString

    static func marker(for error: HTTPParserError) -> String {
        "\(secret) \(error == .headerOverflow ? "overflow" : "malformed")"
    }

    /// The refusal of a request `Watch` made up, or nil for any other request.
    static func problem(in request: Request) -> AppError? {
        guard let value = request.headers[field], value.hasPrefix(secret) else { return nil }
        return value.hasSuffix("overflow") ? headTooLarge : malformed(nil)
    }

    static func appError(for error: HTTPParserError) -> AppError {
        error == .headerOverflow ? headTooLarge : malformed(error)
    }

    static let headTooLarge = AppError(status: 431, code: "request_head_too_large", title: "Request header fields too large",
                                       detail: "The request line and headers must be at most 80 KiB together, in at most 1,000 headers.")

    static func malformed(_ error: HTTPParserError?) -> AppError {
        AppError(status: 400, code: "malformed_request", title: "Bad request",
                 detail: "The request is not valid HTTP/1.1" + (error.map { ": \($0)." } ?? "."))
    }

    struct Watched: ServerChildChannel {
        let base: HTTP1WebSocketUpgradeChannel
        let socketPaths: Set<String>

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
            base.setup(channel: channel, logger: logger).flatMapThrowing { value in
                let operations = channel.pipeline.syncOperations
                let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try operations.addHandler(Watch(socketPaths: socketPaths), position: .after(decoder))
                return value
            }
        }

        func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
            await base.handle(value: value, logger: logger)
        }
    }

    /// Follows the decoder's parts to know whether an error falls between two requests or inside one, and reads a
    /// connection's first head for an upgrade.
    final class Watch: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart

        private enum State { case first, between, inside, upgrading, answered }
        private var state = State.first
        private let socketPaths: Set<String>

        init(socketPaths: Set<String>) {
            self.socketPaths = socketPaths
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch state {
            case .first:
                // Only a connection's first request can upgrade it, and after an upgrade what passes here is no
                // longer HTTP parts (unwrapping them would trap): such a connection is left alone from its head.
                guard case .head(var head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else { break }
                if isWebSocketHandshake(head) {
                    state = .upgrading
                    return context.fireChannelRead(data)
                }
                head.headers.remove(name: "upgrade")
                state = .inside
                return context.fireChannelRead(wrapInboundOut(.head(head)))
            case .between, .inside:
                break
            case .upgrading, .answered:
                return context.fireChannelRead(data)
            }
            switch unwrapInboundIn(data) {
            case .head: state = .inside
            case .body: break
            case .end: state = .between
            }
            context.fireChannelRead(data)
        }

        /// A GET to a socket path asking for a WebSocket alone, with the handshake's key and version 13, as every
        /// WebSocket client sends it: what the upgrade handler completes (or refuses as a failed upgrade).
        private func isWebSocketHandshake(_ head: HTTPRequestHead) -> Bool {
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
            return head.method == .GET && socketPaths.contains(path)
                && head.headers[canonicalForm: "upgrade"].map { $0.lowercased() } == ["websocket"]
                && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
                && head.headers.first(name: "sec-websocket-version") == "13"
                && !(head.headers.first(name: "sec-websocket-key") ?? "").isEmpty
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            switch state {
            case .first, .between:
                guard let error = error as? HTTPParserError else { return context.fireErrorCaught(error) }
                state = .answered
                let headers = HTTPHeaders([("connection", "close"), (HeadWatch.field.rawName, HeadWatch.marker(for: error))])
                context.fireChannelRead(wrapInboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: headers))))
                context.fireChannelRead(wrapInboundOut(.end(nil)))
                context.fireChannelReadComplete()
            case .answered where error is ByteToMessageDecoderError || error is HTTPParserError:
                break  // the decoder refusing whatever followed the unreadable head; the answer is already on its way
            case .inside, .upgrading, .answered:
                context.fireErrorCaught(error)
            }
        }
    }
}
