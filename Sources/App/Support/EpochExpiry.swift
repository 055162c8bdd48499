import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore

/// `app.token_expiry: epoch_seconds`: for an app whose client reads `expires_at` as seconds since 1970, the token
/// routes (signup, login, refresh, token, and their aliases) answer it so, and the served contract says so. The
/// handlers keep the platform's RFC 3339; the small JSON body is rewritten on its way out.
enum EpochExpiry {
    /// The platform paths that answer a TokenResponse.
    static let paths: Set = ["/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/token"]
    static let maxBytes = 64 * 1024

    static func rewrite(_ response: Response) async throws -> Response {
        guard (200..<300).contains(response.status.code), response.headers.value(.contentType)?.hasPrefix("application/json") ?? false else { return response }
        var collector = Collector()
        try await response.body.write(collector.writer)
        guard let buffer = collector.box.buffer, buffer.readableBytes <= maxBytes, case .object(var fields)? = JSONValue.parse(Data(buffer.readableBytesView)),
              let text = fields["expires_at"]?.stringValue, let date = RFC3339.parse(text) else {
            return Response(status: response.status, headers: response.headers, body: .init(byteBuffer: collector.box.buffer ?? ByteBuffer()))
        }
        fields["expires_at"] = .int(Int64(date.timeIntervalSince1970.rounded(.down)))
        var headers = response.headers
        headers[.contentLength] = nil
        return Response(status: response.status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: JSONValue.object(fields).jsonData)))
    }

    /// Collects a response body (the token routes' are small JSON).
    private struct Collector {
        final class Box: @unchecked Sendable {
            var buffer: ByteBuffer?
        }

        struct Writer: ResponseBodyWriter {
            let box: Box

            mutating func write(_ buffer: ByteBuffer) async throws {
                var buffer = buffer
                if box.buffer == nil { box.buffer = buffer } else { box.buffer!.writeBuffer(&buffer) }
            }

            consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
        }

        let box = Box()
        var writer: Writer { Writer(box: box) }
    }
}
