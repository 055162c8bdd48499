import Foundation
import LLM
import Storage
import Testing

@Suite("Conversations")
struct ConversationTests {
    @Test("Create, read, list (newest first, title search, paged), rename, change metadata, delete")
    func lifecycle() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let created = try await app.request(.post, "/api/v1/conversations", json: [
                "title": "  Trip to Lisbon ", "agent": "assistant", "metadata": ["color": "blue", "pinned": true, "tags": ["a", 1]],
            ], token: user.access)
            #expect(created.status == 201, "\(created.text)")
            #expect(created["title"] as? String == "Trip to Lisbon")
            #expect(created["agent"] as? String == "assistant")
            let metadata = created["metadata"] as? [String: Any]
            #expect(metadata?["pinned"] as? Bool == true)
            #expect(metadata?["tags"] as? [Any] != nil)
            let id = try #require(created["id"] as? String)

            _ = try await app.conversation(user.access, title: "Groceries")
            app.clock.advance(seconds: 1)
            _ = try await app.conversation(user.access, title: "Lisbon restaurants")
            let listed = try await app.request(.get, "/api/v1/conversations", token: user.access)
            #expect(listed["total"] as? Int == 3)
            let titles = (listed["items"] as? [[String: Any]])?.compactMap { $0["title"] as? String }
            #expect(titles?.first == "Lisbon restaurants", "most recently active first")
            let search = try await app.request(.get, "/api/v1/conversations?q=LISBON", token: user.access)
            #expect(search["total"] as? Int == 2)
            let literal = try await app.request(.get, "/api/v1/conversations?q=%25", token: user.access)
            #expect(literal["total"] as? Int == 0, "% is a character to find, not a wildcard")
            let paged = try await app.request(.get, "/api/v1/conversations?per_page=2&page=2", token: user.access)
            #expect((paged["items"] as? [Any])?.count == 1)
            #expect(paged["page"] as? Int == 2)

            let renamed = try await app.request(.patch, "/api/v1/conversations/\(id)", json: ["title": "Lisbon, May"], token: user.access)
            #expect(renamed.status == 200)
            #expect(renamed["title"] as? String == "Lisbon, May")
            #expect((renamed["metadata"] as? [String: Any])?["color"] as? String == "blue", "fields left out are kept")
            let cleared = try await app.request(.patch, "/api/v1/conversations/\(id)", json: ["title": "", "agent": "", "metadata": ["v": 2]], token: user.access)
            #expect(cleared["title"] == nil)
            #expect(cleared["agent"] == nil)
            #expect((cleared["metadata"] as? [String: Any])?["v"] as? Int == 2)

            let deleted = try await app.request(.delete, "/api/v1/conversations/\(id)", token: user.access)
            #expect(deleted.status == 204)
            let gone = try await app.request(.get, "/api/v1/conversations/\(id)", token: user.access)
            #expect(gone.status == 404)
        }
    }

    @Test("Bad input is refused with field errors: unknown fields, unknown agent, long title, oversized metadata, bad paging")
    func validation() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let unknown = try await app.request(.post, "/api/v1/conversations", json: ["title": "x", "user_id": UUID().uuidString], token: user.access)
            #expect(unknown.status == 400)
            #expect(unknown.fieldErrors["user_id"] == "unknown_field")
            let agent = try await app.request(.post, "/api/v1/conversations", json: ["agent": "nobody"], token: user.access)
            #expect(agent.fieldErrors["agent"] == "unknown_agent")
            let title = try await app.request(.post, "/api/v1/conversations", json: ["title": String(repeating: "t", count: 201)], token: user.access)
            #expect(title.status == 400)
            let big = try await app.request(.post, "/api/v1/conversations", json: ["metadata": ["blob": String(repeating: "b", count: 17_000)]], token: user.access)
            #expect(big.fieldErrors["metadata"] == "too_large")
            let notObject = try await app.request(.post, "/api/v1/conversations", json: ["metadata": [1, 2]], token: user.access)
            #expect(notObject.status == 400)
            let paging = try await app.request(.get, "/api/v1/conversations?per_page=101", token: user.access)
            #expect(paging.fieldErrors["per_page"] == "out_of_range")
            let list = try await app.request(.get, "/api/v1/conversations", token: user.access)
            #expect(list["total"] as? Int == 0, "nothing was stored")
            let anonymous = try await app.request(.get, "/api/v1/conversations")
            #expect(anonymous.status == 401)
        }
    }

    @Test("Another user's conversation answers 404 everywhere and stays untouched")
    func ownership() async throws {
        try await TestApp.run { app in
            let owner = try await app.signup()
            let intruder = try await app.signup()
            let id = try await app.conversation(owner.access, title: "Private")
            let hello = try await app.send(id, "hello", token: owner.access)
            #expect(hello.status == 200)

            #expect(try await app.request(.get, "/api/v1/conversations/\(id)", token: intruder.access).status == 404)
            #expect(try await app.request(.patch, "/api/v1/conversations/\(id)", json: ["title": "Mine"], token: intruder.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/conversations/\(id)/messages", token: intruder.access).status == 404)
            #expect(try await app.send(id, "let me in", token: intruder.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/conversations/\(id)", token: intruder.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/conversations/not-a-uuid", token: intruder.access).status == 404)
            let list = try await app.request(.get, "/api/v1/conversations", token: intruder.access)
            #expect(list["total"] as? Int == 0)

            let still = try await app.request(.get, "/api/v1/conversations/\(id)", token: owner.access)
            #expect(still["title"] as? String == "Private")
            #expect(try await app.messages(id, token: owner.access).count == 2)
        }
    }

    @Test("Deleting a conversation deletes its messages")
    func deleteCascades() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            #expect(try await app.send(id, "one", token: user.access).status == 200)
            let keep = try await app.conversation(user.access)
            #expect(try await app.send(keep, "two", token: user.access).status == 200)
            #expect(try await app.request(.delete, "/api/v1/conversations/\(id)", token: user.access).status == 204)
            let rows = try await app.server.database.all("SELECT conversation_id FROM messages")
            let left = Set(try rows.map { try $0.decode(column: "conversation_id", as: String.self) })
            #expect(left == [keep])
        }
    }

    @Test("Messages keep role, parts, model, usage, status and order; the listing is paged oldest first")
    func messageListing() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let id = try await app.conversation(user.access)
            #expect(try await app.send(id, "What time is it?", token: user.access).status == 200)
            let page = try await app.request(.get, "/api/v1/conversations/\(id)/messages?per_page=2", token: user.access)
            #expect(page["total"] as? Int == 4)
            let items = page["items"] as? [[String: Any]] ?? []
            #expect(items.map { $0["seq"] as? Int } == [1, 2])
            #expect(items[0].role == "user")
            #expect(items[1]["model"] as? String == "demo")
            #expect(items[1]["provider"] as? String == "mock")
            #expect(items[1]["finish_reason"] as? String == "tool_calls")
            #expect((items[1].usage["output_tokens"] as? Int ?? 0) > 0)
            let second = try await app.request(.get, "/api/v1/conversations/\(id)/messages?per_page=2&page=2", token: user.access)
            let rest = second["items"] as? [[String: Any]] ?? []
            #expect(rest.map(\.role) == ["tool", "assistant"])
            #expect(rest[1].status == "complete")
        }
    }
}
