import Foundation
import Testing

@Suite("Logs")
struct LoggingTests {
    @Test("Logs are JSON lines with the request id, and never hold a password or token")
    func noSecrets() async throws {
        try await TestApp.run { app in
            let password = "very secret password 42"
            let tokens = try await app.signup(password: password)
            let refreshed = Tokens(try await app.refresh(tokens.refresh))
            _ = try await app.login(tokens.email, password: "wrong guess 99")
            _ = try await app.me(refreshed.access)
            _ = try await app.request(.post, "/api/v1/user/change-password",
                                      json: ["current_password": password, "new_password": "another secret 43"], token: refreshed.access)

            let lines = app.logs.all
            let requestLines = lines.filter { $0.contains("\"msg\":\"request\"") }
            #expect(requestLines.count >= 5)
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
                #expect(object["level"] is String)
                #expect(object["ts"] is String)
            }
            for line in requestLines {
                #expect(line.contains("\"request_id\""), "no request id: \(line)")
            }
            let all = lines.joined(separator: "\n")
            for secret in [password, "wrong guess 99", "another secret 43", tokens.access, tokens.refresh, refreshed.access, refreshed.refresh] {
                #expect(!all.contains(secret))
            }
        }
    }
}
