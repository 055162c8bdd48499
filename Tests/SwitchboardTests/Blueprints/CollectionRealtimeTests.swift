import App
import AsyncHTTPClient
import Foundation
import LLM
import Logging
import NIOCore
import OpenAPIRuntime
import Synchronization
import Testing

/// A realtime subscription read off a real socket with a real SSE parser; events are collected as they come.
final class RecordSubscription: Sendable {
    private let received = Mutex<[ReceivedEvent]>([])
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(port: Int, path: String, token: String) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        try #require(response.status == .ok, "subscribing to \(path) answered \(response.status)")
        let task = Task { [weak self] in
            do {
                for try await event in response.body.map({ ArraySlice($0.readableBytesView) }).asDecodedServerSentEvents()
                    where event.event != nil || event.data != nil { // keep-alive comments are not events
                    let parsed = ReceivedEvent(name: event.event ?? "", id: -1, data: event.data.flatMap(JSONValue.parse) ?? .null)
                    self?.received.withLock { $0.append(parsed) }
                }
            } catch {}
        }
        reader.withLock { $0 = task }
        try #require(try await wait(for: 1).first?.name == "ready")
    }

    /// The events after `ready`, once there are `count` of them (or after 10 seconds, however many there are).
    func wait(for count: Int) async throws -> [ReceivedEvent] {
        for _ in 0..<200 where received.withLock({ $0.count }) < count { try await Task.sleep(for: .milliseconds(50)) }
        return received.withLock { $0 }
    }

    func events(after count: Int) async throws -> [ReceivedEvent] {
        Array(try await wait(for: count + 1).dropFirst())
    }

    func close() {
        reader.withLock { $0?.cancel() }
    }
}

@Suite("Blueprint collections: realtime")
struct CollectionRealtimeTests {
    @Test("A subscriber hears created, updated, left and deleted for what they may see and their filter passes, and nothing else")
    func events() async throws {
        try await TestApp.withBlueprint(TestBlueprint.yaml, .live) { app in
            let port = try #require(app.client.port)
            let alice = try await app.signup()
            let bob = try await app.signup()
            let filtered = try await RecordSubscription(port: port, path: "/api/v1/tasks/events?filter=status%20%3D%20'open'", token: alice.access)
            let everything = try await RecordSubscription(port: port, path: "/api/v1/tasks/events", token: bob.access)

            let task = try await app.create("/tasks", ["title": "Open one"], token: alice.access)
            let id = task["id"] as? String ?? ""
            #expect(try await app.request(.patch, "/api/v1/tasks/\(id)", json: ["title": "Renamed"], token: alice.access).status == 200)
            #expect(try await app.request(.patch, "/api/v1/tasks/\(id)", json: ["status": "done"], token: alice.access).status == 200)
            let other = try await app.create("/tasks", ["title": "Short-lived"], token: alice.access)
            #expect(try await app.request(.delete, "/api/v1/tasks/\(other["id"] as? String ?? "")", token: alice.access).status == 204)
            _ = try await app.create("/tasks", ["title": "Done already", "status": "done"], token: alice.access)

            let heard = try await filtered.events(after: 5)
            #expect(heard.map(\.name) == ["created", "updated", "left", "created", "deleted"], "\(heard.map(\.name))")
            #expect(heard.first?.data["title"]?.stringValue == "Open one")
            #expect(heard[1].data["title"]?.stringValue == "Renamed")
            #expect(heard[2].data["id"]?.stringValue == id)
            #expect(heard.first?.data["secret_note"] == nil)

            let bobs = try await app.create("/tasks", ["title": "Bob's"], token: bob.access)
            let bobHeard = try await everything.events(after: 1)
            #expect(bobHeard.map { $0.data["id"]?.stringValue } == [bobs["id"] as? String], "nobody hears of another user's records")
            #expect(try await filtered.events(after: 5).count == 5)
            filtered.close()
            everything.close()

            let refused = try await app.request(.get, "/api/v1/tasks/events?filter=ghost%20%3D%201", token: alice.access)
            #expect(refused.fieldErrors["filter"] != nil)
        }
    }

    @Test("Changes made by relations and hooks are events too: a cascaded delete, a field set to null")
    func relatedChanges() async throws {
        let directory = try TestBlueprint.directory(CollectionRelationTests.yaml, files: ["seed/exercises.json": "[]"])
        try await TestApp.run(.live, customize: { $0.blueprintDirectory = directory }) { app in
            let port = try #require(app.client.port)
            let user = try await app.signup()
            let plan = try await app.create("/plans", ["name": "Strength"], token: user.access)
            let workout = try await app.create("/workouts", ["plan_id": plan["id"] as? String ?? ""], token: user.access)
            let set = try await app.create("/sets", ["workout_id": workout["id"] as? String ?? "", "reps": 5], token: user.access)
            let workouts = try await RecordSubscription(port: port, path: "/api/v1/workouts/events", token: user.access)
            let sets = try await RecordSubscription(port: port, path: "/api/v1/sets/events", token: user.access)

            #expect(try await app.request(.delete, "/api/v1/plans/\(plan["id"] as? String ?? "")", token: user.access).status == 204)
            let nulled = try await workouts.events(after: 1)
            #expect(nulled.first?.name == "updated")
            #expect(nulled.first?.data["plan_id"] == .null)

            #expect(try await app.request(.delete, "/api/v1/workouts/\(workout["id"] as? String ?? "")", token: user.access).status == 204)
            let cascaded = try await sets.events(after: 1)
            #expect(cascaded.first?.name == "deleted")
            #expect(cascaded.first?.data["id"]?.stringValue == set["id"] as? String)
            #expect(try await workouts.events(after: 2).last?.name == "deleted")
            workouts.close()
            sets.close()
        }
    }

    @Test("Across two processes sharing PostgreSQL, a change made through one reaches subscribers of the other",
          .enabled(if: TestDatabase.engine == .postgres))
    func acrossProcesses() async throws {
        try await TestApp.withTwoProcesses(.live) { one, two, token in
            let subscription = try await RecordSubscription(port: try #require(one.port), path: "/api/v1/tasks/events", token: token)
            let created = try await two.execute(uri: "/api/v1/tasks", method: .post,
                                                headers: [.contentType: "application/json", .authorization: "Bearer \(token)"],
                                                body: ByteBuffer(string: #"{"title": "Made on the other process"}"#))
            #expect(created.status == .created)
            let heard = try await subscription.events(after: 1)
            #expect(heard.first?.name == "created")
            #expect(heard.first?.data["title"]?.stringValue == "Made on the other process")
            subscription.close()
        }
    }
}
