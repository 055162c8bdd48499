@testable import App
import Foundation
import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing

/// `RequestHeadCodec` stands in for swift-nio-extras' codec: it must make the very requests that codec makes, by
/// its shorter ways (an origin-form target taken as it is, long values not checked byte by byte again) and by the
/// extras' own for the rest.
@Suite("Request head codec")
struct RequestHeadCodecTests {
    static let token = "Bearer " + String(repeating: "eyJhbGciOiJFZERTQSJ9.", count: 20)

    static let heads: [(String, HTTPRequestHead)] = [
        ("origin form, query, a long token", head(.GET, "/api/v1/auth/me?x=1&y=%20", [("Host", "127.0.0.1:8080"), ("Authorization", token)])),
        ("no Host", head(.GET, "/health", [("Accept", "application/json")])),
        ("two Hosts: the first is the authority, the second a field", head(.POST, "/a", [("host", "one"), ("Host", "two"), ("X-Test", "1")])),
        ("long values starting or ending with spaces or tabs are trimmed",
         head(.GET, "/", [("X-Lead", " \t" + token), ("X-Trail", token + " \t"), ("X-Short", " a ")])),
        ("an empty value, non-ASCII bytes", head(.GET, "/", [("X-Empty", ""), ("X-Text", "caf\u{E9} " + token)])),
        ("cookies are not split", head(.GET, "/", [("Cookie", "a=1; b=2"), ("Cookie", "c=3")])),
        ("a method of its own", head(.RAW(value: "PURGE"), "/cache", [("Host", "h")])),
        ("absolute form", head(.GET, "http://example.com:81/p/q?r=s", [("Host", "example.com:81")])),
        ("asterisk form", head(.OPTIONS, "*", [("Host", "h")])),
        ("authority form", head(.CONNECT, "example.com:443", [("Host", "example.com:443")])),
    ]

    static func head(_ method: HTTPMethod, _ uri: String, _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    @Test("Every head makes the request the extras' codec makes", arguments: heads)
    func sameRequests(_ name: String, _ head: HTTPRequestHead) throws {
        let expected = try HTTPRequest(head, secure: false, splitCookie: false)
        let made = try RequestHeadCodec.request(head)
        #expect(made == expected, "\(name)")
        #expect(made.headerFields.map(\.value) == expected.headerFields.map(\.value), "\(name)")
    }

    @Test("A method HTTPTypes refuses is refused alike")
    func invalidMethod() {
        let head = Self.head(.RAW(value: "BAD METHOD"), "/", [])
        #expect(throws: HTTP1TypeConversionError.invalidMethod) { try RequestHeadCodec.request(head) }
    }

    @Test("Over a socket: a long bearer token, the absolute form and a header refused by the parser")
    func overSocket() async throws {
        try await TestApp.run(.live) { app in
            let tokens = try await app.signup()
            let port = app.client.port!
            let me = RawSocket.answers(await RawSocket.exchange(port: port, """
                GET /api/v1/auth/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(tokens.access)\r\nConnection: close\r\n\r\n
                """))
            #expect(me.first?.status == 200)
            #expect(me.first?.text.contains(tokens.userID) == true)
            let absolute = RawSocket.answers(await RawSocket.exchange(port: port, """
                GET http://127.0.0.1:\(port)/health?probe=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n
                """))
            #expect(absolute.first?.status == 200)
            #expect(absolute.first?.text.contains(#""status":"ok""#) == true)
            // A control byte in a value: NIO's parser refuses the head before any codec sees it.
            let refused = RawSocket.answers(await RawSocket.exchange(port: port, "GET /health HTTP/1.1\r\nHost: h\r\nX-Test: a\u{1}b\r\n\r\n"))
            #expect(refused.first?.status == 400)
            #expect(refused.first?.code == "malformed_request")
            #expect(try await app.request(.get, "/health").status == 200, "the server still answers")
        }
    }
}
