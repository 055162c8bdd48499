import App
import Foundation
import Logging
import Synchronization
import Testing

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("Keys naming a secret are redacted whatever their case or place in the key; others are written as given")
    func redactsSecretKeys() throws {
        let lines = Mutex<[String]>([])
        let logger = Logger(label: "test") { label in JSONLogHandler(label: label, level: .info) { line in lines.withLock { $0.append(line) } } }
        logger.info("request", metadata: [
            "Authorization": "Bearer abc", "x_API_Key": "k1", "refresh-TOKEN": "t1", "passwordHash": "h1", "Set-Cookie": "c1",
            "client_secret": "s1", "kKEY": "k2", "sSecret": "s2", "path": "/api/v1/auth/me", "status": "200", "k": "short", "": "empty",
        ])
        let line = try #require(lines.withLock { $0.first })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["Authorization", "x_API_Key", "refresh-TOKEN", "passwordHash", "Set-Cookie", "client_secret", "kKEY", "sSecret"] {
            #expect(object[key] as? String == "[redacted]", "\(key) is redacted")
        }
        #expect(object["path"] as? String == "/api/v1/auth/me")
        #expect(object["status"] as? String == "200")
        #expect(object["k"] as? String == "short")
        #expect(object[""] as? String == "empty")
        #expect(object["msg"] as? String == "request")
        for secret in ["abc", "k1", "t1", "h1", "c1", "s1", "k2", "s2"] { #expect(!line.contains("\"\(secret)\"")) }
    }
}
