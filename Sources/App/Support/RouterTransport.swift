import HTTPTypes
import Hummingbird
import NIOCore
import OpenAPIRuntime

/// Serves the generated operations on the Hummingbird router.
///
/// Our own rather than swift-openapi-hummingbird's because of what it does with a response: that transport streams
/// every body through an async sequence and a writer closure, even the JSON document the generated code has already
/// encoded into memory, which is nearly every response. Here a body of known length that may be read more than once
/// (one in memory) goes out as one buffer; only a real stream (server-sent events) is streamed.
///
/// An operation whose path has no parameter is also collected in `staticRoutes`, wrapped in the router's middleware,
/// for `PathAliasResponder` to find without walking the trie.
struct RouterTransport: ServerTransport {
    let router: Router<AppRequestContext>
    let staticRoutes = StaticRoutesBuilder()

    func register(
        _ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method,
        path: String
    ) throws {
        let endpoint = CallbackResponder<AppRequestContext> { request, context in
            let body: HTTPBody?
            if let buffer = context.body {
                body = buffer.readableBytes == 0 ? nil : HTTPBody([UInt8](buffer: buffer))
            } else {
                let length: HTTPBody.Length = request.headers.value(.contentLength).flatMap { Int($0) }.map { .known(Int64($0)) } ?? .unknown
                body = HTTPBody(request.body.map { [UInt8](buffer: $0) }, length: length, iterationBehavior: .single)
            }
            var parameters: [String: Substring] = [:]
            for (name, value) in context.parameters where parameters[String(name)] == nil {
                parameters[String(name)] = value
            }
            let (response, responseBody) = try await handler(request.head, body, ServerRequestMetadata(pathParameters: parameters))
            return Response(status: response.status, headers: response.headerFields,
                            body: try await Self.body(responseBody, eventLoop: context.eventLoop))
        }
        router.on(RouterPath(path), method: method, responder: endpoint)
        staticRoutes.routes.add(path, method: method, responder: router.middlewares.constructResponder(finalResponder: endpoint))
    }

    /// A body in memory as one buffer; a stream as a stream, written from `eventLoop` (`EventLoopTaskExecutor`).
    static func body(_ body: HTTPBody?, eventLoop: any EventLoop) async throws -> ResponseBody {
        guard let body else { return ResponseBody(byteBuffer: ByteBuffer()) }
        if case .known(let length) = body.length, body.iterationBehavior == .multiple {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(Int(length))
            for try await chunk in body { buffer.writeBytes(chunk) }
            return ResponseBody(byteBuffer: buffer)
        }
        let chunks = body.map { ByteBuffer(bytes: $0) }
        if case .known(let length) = body.length {
            return ResponseBody(contentLength: Int(length)) { writer in
                for try await chunk in chunks { try await writer.write(chunk) }
                try await writer.finish(nil)
            }
        }
        return EventLoopTaskExecutor.streamed(chunks, on: eventLoop)
    }
}
