import App
import Foundation
import Logging
import Testing

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("Keys naming a secret are redacted whatever their case or place in the key; others are written as given")
    func redactsSecretKeys() throws {
        let logs = LogCapture()
        let logger = logs.logger(label: "test")
        logger.info("request", metadata: [
            "Authorization": "Bearer abc", "x_API_Key": "k1", "refresh-TOKEN": "t1", "passwordHash": "h1", "Set-Cookie": "c1",
            "client_secret": "s1", "kKEY": "k2", "sSecret": "s2", "path": "/api/v1/auth/me", "status": "200", "k": "short", "": "empty",
        ])
        let line = try #require(logs.all.first)
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
