@testable import App
import Core
import Foundation
import Logging
import NIOCore
import Testing

/// The access line is written directly by `JSONLogHandler` rather than through `Logger`'s metadata, and the client's
/// IPv4 address is written by hand rather than by NIO: each must write exactly what the path it replaces wrote.
@Suite("Access lines")
struct AccessLogTests {
    @Test("The direct access line is the line Logger writes for the same metadata, escapes included")
    func directLineMatchesLogger() throws {
        let logs = LogCapture()
        let logger = logs.logger()
        let access = AccessLog(logger: logger)
        let cases: [(String, String, Int, Int64, String)] = [
            ("GET", "/health", 200, 123, "127.0.0.1"),
            ("POST", "/api/v1/conversations/\"quoted\"\\back\u{1}", 422, 1_500_000, "::1"),
            ("DELETE", "/caf\u{e9}/\u{2028}", 500, 0, "unknown"),
        ]
        try RequestScope.$current.withValue(RequestScope(requestID: "req-1", client: ClientInfo(address: "x", userAgent: nil))) {
            for (method, path, status, micros, client) in cases {
                access.write(method: method, path: path, status: status, durationMicros: micros, client: client)
                logger.info("request", metadata: AccessLog.metadata(method: method, path: path, status: status, durationMicros: micros, client: client))
                let lines = logs.all
                let (direct, general) = (lines[lines.count - 2], lines[lines.count - 1])
                #expect(Self.withoutTime(direct) == Self.withoutTime(general))
                let object = try #require(try JSONSerialization.jsonObject(with: Data(direct.utf8)) as? [String: Any])
                #expect(object["path"] as? String == path)
                #expect(object["request_id"] as? String == "req-1")
            }
        }
        #expect(logs.all.count == cases.count * 2)
    }

    @Test("Nothing is written above the info level, and a handler with metadata of its own gets the line through Logger")
    func levelsAndMetadata() {
        let logs = LogCapture()
        var quiet = logs.logger()
        quiet.logLevel = .warning
        AccessLog(logger: quiet).write(method: "GET", path: "/health", status: 200, durationMicros: 1, client: "c")
        #expect(logs.all.isEmpty)
        var tagged = logs.logger()
        tagged[metadataKey: "node"] = "a"
        AccessLog(logger: tagged).write(method: "GET", path: "/health", status: 200, durationMicros: 1, client: "c")
        let line = logs.all.first ?? ""
        #expect(line.contains(#""node":"a""#) && line.contains(#""path":"/health""#), "\(line)")
    }

    @Test("Durations print as the Double of rounded milliseconds did")
    func milliseconds() {
        var values: [Int64] = Array(0...2_100) + [9_999, 10_000, 10_001, 123_456, 999_999_999, 86_400_000_000]
        for _ in 0..<2_000 { values.append(Int64.random(in: 0...10_000_000_000)) }
        for micros in values {
            #expect(AccessLog.milliseconds(micros) == "\(Double(micros) / 1000)", "\(micros) µs")
        }
    }

    @Test("An IPv4 peer's text is NIO's, and other peers are NIO's own text")
    func peerText() throws {
        var samples = ["0.0.0.0", "255.255.255.255", "127.0.0.1", "10.0.100.9", "192.168.1.255"]
        for _ in 0..<2_000 { samples.append((0..<4).map { _ in String(UInt8.random(in: 0...255)) }.joined(separator: ".")) }
        for text in samples {
            let address = try SocketAddress(ipAddress: text, port: 8080)
            #expect(ClientAddressResolver.text(of: address) == address.ipAddress, "\(text)")
            #expect(ClientAddressResolver.text(of: address) == text)
        }
        let v6 = try SocketAddress(ipAddress: "2001:db8::1", port: 443)
        #expect(ClientAddressResolver.text(of: v6) == v6.ipAddress)
        #expect(ClientAddressResolver.text(of: nil) == nil)
    }

    static func withoutTime(_ line: String) -> String {
        line.replacingOccurrences(of: #""ts":"[^"]*""#, with: "", options: .regularExpression)
    }
}
