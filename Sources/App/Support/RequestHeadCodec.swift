import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// NIO's HTTP/1 parts to and from HTTPTypes' in place of swift-nio-extras' `HTTP1ToHTTPServerCodec`, which
/// Hummingbird installs, with the same requests and responses made for less:
/// - a request target in origin form (`/path?query`, what every client sends a server) is the path as it is. The
///   extras' codec parses every target with Foundation's `URLComponents` to find a scheme, which such a target cannot
///   have (a scheme starts with a letter), and then keeps it as it is: 2,900 instructions a request. Other forms
///   (absolute, `*`) still go through the extras' conversion.
/// - a header value longer than `lenientFrom` bytes (a bearer token, a cookie) is checked for what NIO's parser lets
///   through, not byte by byte again. HTTPTypes' `HTTPField(name:value:)` checks each byte of a value for RFC 9110
///   (16 instructions a byte, 6,800 for a 424-byte access token). NIO's parser (llhttp) has already refused a value
///   with any control byte but a tab, and trims spaces and tabs around it. So a value the parser passed is legal
///   unless it starts or ends with a space or tab; such a value takes the checked way (which trims it). The others
///   take `lenientValue`, which only looks for NUL, CR and LF, at 5 instructions a byte and a copy (1,500).
///   Shorter values take the checked way, cheaper below that length.
///
/// `HeadWatch.server` adds it after the extras' codec, which it takes out of the pipeline as it is added: the
/// upgrade handler adds both once it knows a connection stays HTTP/1.
final class RequestHeadCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    static let lenientFrom = 160

    func handlerAdded(context: ChannelHandlerContext) {
        let operations = context.pipeline.syncOperations
        if let replaced = try? operations.handler(type: HTTP1ToHTTPServerCodec.self) {
            operations.removeHandler(replaced, promise: nil)
        } else {
            // A pipeline built some other way, with nothing here to stand in for: it is left as it was built.
            operations.removeHandler(context: context, promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            do {
                context.fireChannelRead(wrapInboundOut(.head(try Self.request(head))))
            } catch {
                context.fireErrorCaught(error)
            }
        case .body(let body):
            context.fireChannelRead(wrapInboundOut(.body(body)))
        case .end(let trailers):
            context.fireChannelRead(wrapInboundOut(.end(trailers.map { HTTPFields($0, splitCookie: false) })))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            context.write(wrapOutboundOut(.head(HTTPResponseHead(response))), promise: promise)
        case .body(let body):
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
        case .end(let trailers):
            context.write(wrapOutboundOut(.end(trailers.map(HTTPHeaders.init))), promise: promise)
        }
    }

    /// What the extras' `HTTPRequest(head, secure: false, splitCookie: false)` makes of `head`.
    static func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        guard head.uri.utf8.first == UInt8(ascii: "/") else {
            return try HTTPRequest(head, secure: false, splitCookie: false)
        }
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        // The first Host is the authority, not a field.
        var authority: String?
        for (name, value) in head.headers {
            guard let name = HTTPField.Name(name) else { continue }
            if authority == nil && name.canonicalName == "host" {
                authority = value
                continue
            }
            fields.append(field(name, value))
        }
        return HTTPRequest(method: try HTTPRequest.Method(head.method), scheme: "http", authority: authority, path: head.uri,
                           headerFields: fields)
    }

    /// `HTTPField(name: name, value: value)`, for a value NIO's parser passed.
    static func field(_ name: HTTPField.Name, _ value: String) -> HTTPField {
        let bytes = value.utf8
        guard bytes.count > lenientFrom, let first = bytes.first, let last = bytes.last,
              first != 0x20, first != 0x09, last != 0x20, last != 0x09 else {
            return HTTPField(name: name, value: value)
        }
        return HTTPField(name: name, lenientValue: bytes)
    }
}
