import Foundation
import HTTPTypes
import Testing

/// `/health` and `/api/v1/auth/me` answer with bodies written as bytes (`DirectBodies`) unless the request names an
/// Accept the generated code must judge; these hold the two paths to the same answer.
@Suite("Bodies written as bytes")
struct DirectBodiesTests {
    /// The same request with each Accept of the written path, and once with one only the generated handler answers.
    func expectSameAnswers(_ app: TestApp, _ path: String, token: String? = nil) async throws {
        let generated = try await app.request(.get, path, token: token, headers: [.accept: "application/json, text/plain"])
        #expect(generated.status == 200, "\(generated.text)")
        let expected = try JSONSerialization.jsonObject(with: Data(buffer: generated.body)) as? NSDictionary
        try #require(expected != nil)
        for accept in [nil, "*/*", "application/json", "application/json, text/plain, */*"] {
            let written = try await app.request(.get, path, token: token, headers: accept.map { [.accept: $0] } ?? [:])
            #expect(written.status == 200, "\(written.text)")
            #expect(written.headers[.contentType] == generated.headers[.contentType], "Accept: \(accept ?? "none")")
            #expect(try JSONSerialization.jsonObject(with: Data(buffer: written.body)) as? NSDictionary == expected,
                    "Accept: \(accept ?? "none"): \(written.text) against \(generated.text)")
        }
    }

    @Test("/health and /me answer as the generated serializer does, for users with and without a name, with any characters")
    func sameAsGenerated() async throws {
        try await TestApp.run { app in
            try await expectSameAnswers(app, "/health")
            let plain = try await app.signup()
            try await expectSameAnswers(app, "/api/v1/auth/me", token: plain.access)
            let named = try await app.signup(name: "Zoë \"Q\" O'Brien / back\\slash \u{2028} 🦊 e\u{301}")
            try await expectSameAnswers(app, "/api/v1/auth/me", token: named.access)
            #expect(try await app.me(named.access)["name"] as? String == "Zoë \"Q\" O'Brien / back\\slash \u{2028} 🦊 e\u{301}")
            // The two writers differ in one visible way: JSONValue escapes U+2028 (JavaScript's line separator) and
            // JSONEncoder does not, so this tells that the written path, not the generated one, answered.
            let written = try await app.request(.get, "/api/v1/auth/me", token: named.access)
            let generated = try await app.request(.get, "/api/v1/auth/me", token: named.access, headers: [.accept: "application/json, text/plain"])
            #expect(written.text.contains(#"\u2028"#) && !generated.text.contains(#"\u2028"#), "\(written.text) against \(generated.text)")
        }
    }

    @Test("The written path still checks first: no token is 401, and an Accept without JSON is judged as before")
    func checksFirst() async throws {
        try await TestApp.run { app in
            let anonymous = try await app.request(.get, "/api/v1/auth/me")
            #expect(anonymous.status == 401)
            #expect(anonymous.code == "unauthorized")
            let user = try await app.signup()
            let html = try await app.request(.get, "/api/v1/auth/me", token: user.access, headers: [.accept: "text/html"])
            #expect(html.status >= 400 && html.status < 500, "\(html.text)")
        }
    }
}
