import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// List totals are remembered between writes (counting tens of thousands of matches costs milliseconds), so these
/// check that a remembered total is never served after a write it does not include, in one process and across two.
@Suite("Blueprint collections: list totals")
struct CollectionTotalsTests {
    @Test("Totals follow every write: create, an update that leaves the filter, delete")
    func exact() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            func total(_ query: String = "") async throws -> Int? {
                try await app.request(.get, "/api/v1/tasks" + query, token: user.access)["total"] as? Int
            }
            let open = "?filter=status%20%3D%20'open'"
            var ids: [String] = []
            for n in 0..<3 { ids.append(try #require(try await app.create("/tasks", ["title": "Task \(n)"], token: user.access)["id"] as? String)) }
            #expect(try await total() == 3)
            #expect(try await total(open) == 3)
            #expect(try await total(open) == 3, "asked again: remembered, and still right")
            _ = try await app.create("/tasks", ["title": "Another"], token: user.access)
            #expect(try await total(open) == 4)
            #expect(try await app.request(.patch, "/api/v1/tasks/\(ids[0])", json: ["status": "done"], token: user.access).status == 200)
            #expect(try await total(open) == 3)
            #expect(try await total() == 4)
            #expect(try await app.request(.delete, "/api/v1/tasks/\(ids[1])", token: user.access).status == 204)
            #expect(try await total(open) == 2)
            #expect(try await total() == 3)
        }
    }

    @Test("Across two processes sharing PostgreSQL, a write through one changes the totals the other answers",
          .enabled(if: TestDatabase.engine == .postgres))
    func acrossProcesses() async throws {
        try await TestApp.withTwoProcesses(.router) { one, two, token in
            let auth: HTTPFields = [.authorization: "Bearer \(token)"]
            func total(_ client: some TestClientProtocol) async throws -> Int? {
                let reply = try await client.execute(uri: "/api/v1/tasks", method: .get, headers: auth, body: nil)
                return (try JSONSerialization.jsonObject(with: Data(buffer: reply.body)) as? [String: Any])?["total"] as? Int
            }
            func create(_ client: some TestClientProtocol) async throws -> String? {
                var headers = auth
                headers[.contentType] = "application/json"
                let reply = try await client.execute(uri: "/api/v1/tasks", method: .post, headers: headers, body: ByteBuffer(string: #"{"title": "t"}"#))
                return (try JSONSerialization.jsonObject(with: Data(buffer: reply.body)) as? [String: Any])?["id"] as? String
            }
            _ = try await create(one)
            #expect(try await total(one) == 1)
            #expect(try await total(one) == 1)
            let id = try #require(try await create(two))
            #expect(try await total(one) == 2, "the other process's create is counted")
            #expect(try await two.execute(uri: "/api/v1/tasks/\(id)", method: .delete, headers: auth, body: nil).status == .noContent)
            #expect(try await total(one) == 1, "and its delete")
        }
    }
}
