import App
import Core
import Foundation
import HTTPTypes
import LLM
import Storage
import Testing

@Suite("API keys")
struct ApiKeyTests {
    @Test("A key is shown once, stored as a hash, acts as its user within its scopes, and stops at once when revoked")
    func lifecycle() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            let created = try await app.request(.post, "/api/v1/api-keys", json: ["name": "CI", "scopes": ["conversations:read", "account:read"]],
                                                token: user.access)
            #expect(created.status == 201, "\(created.text)")
            let key = try #require(created["key"] as? String)
            let prefix = try #require(created["prefix"] as? String)
            #expect(key.hasPrefix("sk_\(prefix)_"))

            let list = try await app.request(.get, "/api/v1/api-keys", token: user.access)
            let item = try #require((list["items"] as? [[String: Any]])?.first)
            #expect(item["prefix"] as? String == prefix)
            #expect(item["key"] == nil && !list.text.contains(key), "the key is never shown again")
            let dump = try await app.storeDump()
            #expect(!dump.contains(String(key.dropFirst(12))), "only a hash of the key is stored")

            let me = try await app.request(.get, "/api/v1/auth/me", token: key)
            #expect(me.status == 200)
            #expect(me["id"] as? String == user.userID)
            #expect(try await app.request(.get, "/api/v1/conversations", token: key).status == 200)
            let outOfScope = try await app.request(.post, "/api/v1/conversations", json: [:], token: key)
            #expect(outOfScope.status == 403)
            #expect(outOfScope.code == "insufficient_scope")
            let sessionOnly = try await app.request(.post, "/api/v1/api-keys", json: ["name": "more", "scopes": ["chat"]], token: key)
            #expect(sessionOnly.code == "session_required", "a key cannot make keys")
            #expect(try await app.request(.post, "/api/v1/user/change-password", json: ["current_password": "x", "new_password": "yyyyyyyy"], token: key).code == "session_required")
            let used = try await app.request(.get, "/api/v1/api-keys", token: user.access)
            #expect((used["items"] as? [[String: Any]])?.first?["last_used_at"] != nil)

            let other = try await app.signup()
            #expect(try await app.request(.delete, "/api/v1/api-keys/\(created["id"] as? String ?? "")", token: other.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/api-keys/\(created["id"] as? String ?? "")", token: user.access).status == 204)
            let revoked = try await app.request(.get, "/api/v1/auth/me", token: key)
            #expect(revoked.status == 401)
            #expect(revoked.code == "invalid_api_key")
            #expect(try await app.request(.get, "/api/v1/auth/me", token: "sk_\(prefix)_forged").code == "invalid_api_key")
        }
    }

    @Test("Scopes must be known and expiry in the future; an expired key stops working")
    func validation() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            #expect(try await app.request(.post, "/api/v1/api-keys", json: ["name": "x", "scopes": ["root"]], token: user.access).fieldErrors["scopes"] == "invalid_scope")
            #expect(try await app.request(.post, "/api/v1/api-keys", json: ["name": "", "scopes": ["chat"]], token: user.access).fieldErrors["name"] == "invalid_name")
            #expect(try await app.request(.post, "/api/v1/api-keys", json: ["name": "x", "scopes": ["chat"], "expires_at": "2001-01-01T00:00:00Z"],
                                          token: user.access).fieldErrors["expires_at"] == "in_the_past")
            let soon = RFC3339.format(app.clock.wallClock.now.addingTimeInterval(3600), fractionalDigits: 0)
            let created = try await app.request(.post, "/api/v1/api-keys", json: ["name": "short", "scopes": ["account:read"], "expires_at": soon], token: user.access)
            let key = try #require(created["key"] as? String)
            #expect(try await app.request(.get, "/api/v1/auth/me", token: key).status == 200)
            app.clock.advance(seconds: 3601)
            #expect(try await app.request(.get, "/api/v1/auth/me", token: key).code == "invalid_api_key")
        }
    }

    @Test("A plan without API keys stops existing keys at once, over HTTP and the WebSocket; an upgrade brings them back")
    func downgrade() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("Back again.")])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup() // on pro
            let conversation = try await app.conversation(user.access)
            let created = try await app.request(.post, "/api/v1/api-keys", json: ["name": "bot", "scopes": ["chat", "account:read"]], token: user.access)
            let key = try #require(created["key"] as? String)
            #expect(try await app.request(.get, "/api/v1/auth/me", token: key).status == 200)

            try await PlanTests.setTier(app, user, "free")
            let refused = try await app.request(.get, "/api/v1/auth/me", token: key)
            #expect(refused.status == 403)
            #expect(refused.code == "feature_not_in_plan")
            #expect(refused["feature"] as? String == "api_keys")
            #expect(try await app.request(.get, "/api/v1/auth/me", token: user.access).status == 200, "the login session is unaffected")
            let socket = try await StreamingTests.exchange(url: "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream", headers: [.authorization: "Bearer \(key)"],
                                                           logger: TestDatabase.logger, frames: [#"{"conversation_id": "\#(conversation)", "content": "hi"}"#])
            #expect(socket.first?["data"]?["code"] == "feature_not_in_plan")
            #expect(fake.requests.isEmpty)

            try await PlanTests.setTier(app, user, "pro")
            #expect(try await app.send(conversation, "hello", token: key).status == 200, "the key was never revoked")
        }
    }

    @Test("A key with the chat scope chats, over HTTP and the WebSocket; without it, it cannot")
    func chat() async throws {
        let fake = try await FakeProvider.start(.openai, [.text("Via a key."), .text("Over the socket.")])
        try await TestApp.withFakes([fake], testing: .live) { app in
            let user = try await app.signup()
            let conversation = try await app.conversation(user.access)
            let chat = try await app.request(.post, "/api/v1/api-keys", json: ["name": "bot", "scopes": ["chat"]], token: user.access)
            let key = try #require(chat["key"] as? String)
            let reply = try await app.send(conversation, "hello", token: key)
            #expect(reply.status == 200, "\(reply.text)")
            let frames = try await StreamingTests.exchange(url: "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream", headers: [.authorization: "Bearer \(key)"],
                                                           logger: TestDatabase.logger, frames: [#"{"conversation_id": "\#(conversation)", "content": "hi"}"#])
            #expect(frames.last?["event"] == "done")
            let read = try await app.request(.post, "/api/v1/api-keys", json: ["name": "reader", "scopes": ["conversations:read"]], token: user.access)
            let readKey = try #require(read["key"] as? String)
            #expect(try await app.send(conversation, "hello", token: readKey).code == "insufficient_scope")
            let refused = try await StreamingTests.exchange(url: "ws://127.0.0.1:\(app.client.port!)/api/v1/chat/stream", headers: [.authorization: "Bearer \(readKey)"],
                                                            logger: TestDatabase.logger, frames: [#"{"conversation_id": "\#(conversation)", "content": "hi"}"#])
            #expect(refused.first?["data"]?["code"] == "insufficient_scope")
        }
    }
}
