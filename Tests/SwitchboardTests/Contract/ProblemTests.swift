import Foundation
import HTTPTypes
import NIOCore
import Testing

@Suite("Errors and request ids")
struct ProblemTests {
    func expectProblem(_ reply: Reply, status: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == status, sourceLocation: sourceLocation)
        #expect(reply.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        #expect(reply.code == code, sourceLocation: sourceLocation)
        #expect(reply["status"] as? Int == status, sourceLocation: sourceLocation)
        #expect(reply["title"] is String, sourceLocation: sourceLocation)
        #expect((reply["type"] as? String)?.hasSuffix(code) == true, sourceLocation: sourceLocation)
        #expect(reply["request_id"] as? String == reply.headers[.init("X-Request-ID")!], sourceLocation: sourceLocation)
    }

    @Test("Every error is a problem document with a stable code and the request id")
    func problems() async throws {
        try await TestApp.run { app in
            expectProblem(try await app.request(.get, "/no/such/route"), status: 404, code: "not_found")
            expectProblem(try await app.request(.get, "/api/v1/auth/me"), status: 401, code: "unauthorized")
            expectProblem(try await app.request(.post, "/api/v1/auth/signup", json: ["email": 42, "password": "12345678"]),
                          status: 400, code: "validation_failed")
            expectProblem(try await app.request(.post, "/api/v1/auth/signup", headers: [.contentType: "application/json"],
                                                body: ByteBuffer(string: "{not json")), status: 400, code: "malformed_body")
            expectProblem(try await app.request(.post, "/api/v1/auth/signup", headers: [.contentType: "application/json"],
                                                body: ByteBuffer(string: "[1, 2]")), status: 400, code: "malformed_body")
            expectProblem(try await app.request(.post, "/api/v1/auth/signup", headers: [.contentType: "text/plain"],
                                                body: ByteBuffer(string: "email=a")), status: 415, code: "unsupported_media_type")
            let typed = try await app.request(.post, "/api/v1/auth/signup", json: ["email": 42, "password": "12345678"])
            #expect(typed.fieldErrors["email"] == "invalid_type")
            #expect(try await app.request(.get, "/api/v1/auth/me").headers[.wwwAuthenticate] != nil)
        }
    }

    @Test("Bodies over the limit answer 413, whether announced by Content-Length or streamed")
    func bodyLimit() async throws {
        try await TestApp.run(.live, customize: { $0.maxBodyBytes = 4096 }) { app in
            let big = ByteBuffer(repeating: UInt8(ascii: "a"), count: 10_000)
            expectProblem(try await app.request(.post, "/api/v1/auth/login", headers: [.contentType: "application/json"], body: big),
                          status: 413, code: "payload_too_large")
            let fits = try await app.request(.post, "/api/v1/auth/login", json: ["email": "a@example.com", "password": String(repeating: "p", count: 1000)])
            #expect(fits.status == 401)
        }
    }

    @Test("X-Request-ID is echoed when well-formed and replaced otherwise")
    func requestIDs() async throws {
        try await TestApp.run { app in
            let given = try await app.request(.get, "/health", headers: [.init("X-Request-ID")!: "client-abc.123:x"])
            #expect(given.headers[.init("X-Request-ID")!] == "client-abc.123:x")
            let forged = try await app.request(.get, "/health", headers: [.init("X-Request-ID")!: "evil\"} injected"])
            let replaced = try #require(forged.headers[.init("X-Request-ID")!])
            #expect(replaced != "evil\"} injected")
            #expect(UUID(uuidString: replaced) != nil)
            let generated = try await app.request(.get, "/health")
            #expect(generated.headers[.init("X-Request-ID")!].flatMap(UUID.init(uuidString:)) != nil)
        }
    }

    @Test("CORS: allowed origins get the headers and preflights; others get none")
    func cors() async throws {
        try await TestApp.run(customize: { $0.corsOrigins = ["https://app.example.com"] }) { app in
            let allowed = try await app.request(.get, "/health", headers: [.origin: "https://app.example.com"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(allowed.headers[.accessControlExposeHeaders]?.contains("X-Request-ID") == true)
            let denied = try await app.request(.get, "/health", headers: [.origin: "https://evil.example.com"])
            #expect(denied.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await app.request(.options, "/api/v1/auth/login",
                                                  headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == 204)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            let problem = try await app.request(.get, "/api/v1/auth/me", headers: [.origin: "https://app.example.com"])
            #expect(problem.status == 401)
            #expect(problem.headers[.accessControlAllowOrigin] == "https://app.example.com")
        }
    }
}
