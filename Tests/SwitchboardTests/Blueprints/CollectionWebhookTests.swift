import App
import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// A receiver for webhooks: answers with the statuses it is given in turn (then 200), keeps what it received.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        let headers: HTTPFields
        let body: [UInt8]
    }

    private let state = Mutex<(statuses: [HTTPResponse.Status], received: [Delivery])>(([], []))
    private let slot = FakeServerSlot()

    static func start(failing statuses: [HTTPResponse.Status] = []) async throws -> WebhookReceiver {
        let receiver = WebhookReceiver()
        receiver.state.withLock { $0.statuses = statuses }
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let status = receiver.state.withLock { state -> HTTPResponse.Status in
                state.received.append(Delivery(headers: request.headers, body: Array(body.readableBytesView)))
                return state.statuses.isEmpty ? .ok : state.statuses.removeFirst()
            }
            return Response(status: status)
        }
        receiver.slot.hold(try await FakeServer.start(router))
        return receiver
    }

    var url: String { slot.baseURL + "/hook" }
    var received: [Delivery] { state.withLock { $0.received } }
    func fail(with statuses: [HTTPResponse.Status]) { state.withLock { $0.statuses = statuses } }
    func stop() async { await slot.stop() }

    /// Waits (up to 10 s) until `count` deliveries arrived.
    func wait(for count: Int) async throws -> [Delivery] {
        for _ in 0..<200 where received.count < count { try await Task.sleep(for: .milliseconds(50)) }
        return received
    }
}

@Suite("Blueprint collections: webhooks")
struct CollectionWebhookTests {
    static func yaml(_ url: String) -> String {
        """
        blueprint: 1
        app: {name: hooked}
        collections:
          notes:
            schema: {type: object, properties: {text: {type: string}, secret: {type: [string, "null"], hidden: true}}}
            hooks:
              after_create:
                - webhook: {url: "\(url)", secret_env: SWITCHBOARD_TEST_WEBHOOK_SECRET}
        """
    }

    init() {
        setenv("SWITCHBOARD_TEST_WEBHOOK_SECRET", "whsec_test_secret", 1)
    }

    @Test("A hook's webhook is delivered after commit, signed, and retried until the receiver accepts it")
    func delivered() async throws {
        let receiver = try await WebhookReceiver.start(failing: [.internalServerError])
        try await TestApp.withBlueprint(Self.yaml(receiver.url), customize: { $0.webhookRetryMilliseconds = 50 }) { app in
            let user = try await app.signup()
            let note = try await app.create("/notes", ["text": "hello", "secret": "never sent"], token: user.access)
            _ = try await receiver.wait(for: 1)
            for _ in 0..<100 {
                let row = try await app.server.database.first("SELECT attempts FROM webhook_outbox")
                if try row?.decode(column: "attempts", as: Int64.self) == 1 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            app.clock.advance(seconds: 1) // the test clock stands still: move it past the retry's time
            let deliveries = try await receiver.wait(for: 2)
            #expect(deliveries.count == 2, "a failed delivery is retried")
            let last = try #require(deliveries.last)
            #expect(throws: Never.self) {
                try StripeSignature.verify(header: last.headers[HTTPField.Name("Switchboard-Signature")!], payload: last.body,
                                           secret: "whsec_test_secret", now: Date())
            }
            let payload = try #require(try JSONSerialization.jsonObject(with: Data(last.body)) as? [String: Any])
            #expect(payload["event"] as? String == "after_create")
            #expect(payload["collection"] as? String == "notes")
            let record = payload["record"] as? [String: Any] ?? [:]
            #expect(record["id"] as? String == note["id"] as? String)
            #expect(record["text"] as? String == "hello")
            #expect(record["secret"] == nil, "hidden fields are never sent")
            #expect(deliveries[0].headers[HTTPField.Name("Switchboard-Delivery")!] == last.headers[HTTPField.Name("Switchboard-Delivery")!])
            for _ in 0..<100 {
                let row = try await app.server.database.first("SELECT delivered_at FROM webhook_outbox")
                if try row?.decodeNil(column: "delivered_at") == false { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let row = try #require(try await app.server.database.first("SELECT attempts, delivered_at FROM webhook_outbox"))
            #expect(try row.decode(column: "attempts", as: Int64.self) == 2)
            #expect(try !row.decodeNil(column: "delivered_at"))
        }
        await receiver.stop()
    }

    @Test("A webhook not yet delivered when the process stops is delivered by the next one")
    func survivesRestart() async throws {
        let receiver = try await WebhookReceiver.start(failing: Array(repeating: .serviceUnavailable, count: 1000))
        let directory = try TestBlueprint.directory(Self.yaml(receiver.url), files: [:])
        var (settings, _) = try await TestApp.settings()
        settings.blueprintDirectory = directory
        // Long enough that the first process is not in the middle of a second attempt when it stops, even on a loaded
        // machine (an attempt cut off mid-way stays claimed for a minute, and the next process rightly waits that out).
        settings.webhookRetryMilliseconds = 5000
        let logger = Logger(label: "test")
        let first = try await Switchboard.build(settings: settings, logger: logger)
        try await first.application.test(.router) { client in
            let signup = try await client.execute(uri: "/api/v1/auth/signup", method: .post, headers: [.contentType: "application/json"],
                                                  body: ByteBuffer(string: #"{"email": "restart@example.com", "password": "correct horse battery"}"#))
            let token = try #require((try JSONSerialization.jsonObject(with: Data(buffer: signup.body)) as? [String: Any])?["access_token"] as? String)
            let created = try await client.execute(uri: "/api/v1/notes", method: .post,
                                                   headers: [.contentType: "application/json", .authorization: "Bearer \(token)"],
                                                   body: ByteBuffer(string: #"{"text": "survives"}"#))
            #expect(created.status == .created)
            for _ in 0..<200 {
                let row = try await first.database.first("SELECT attempts FROM webhook_outbox")
                if try row?.decode(column: "attempts", as: Int64.self) == 1 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        await first.close()
        #expect(!receiver.received.isEmpty, "the first process tried")
        receiver.fail(with: [])
        let before = receiver.received.count
        let second = try await Switchboard.build(settings: settings, logger: logger)
        try await second.application.test(.router) { _ in
            // The retry is due 5 s after the first attempt; a loaded machine gets a minute more.
            let deadline = ContinuousClock.now + .seconds(65)
            while ContinuousClock.now < deadline {
                let row = try await second.database.first("SELECT delivered_at FROM webhook_outbox")
                if try row?.decodeNil(column: "delivered_at") == false { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let row = try #require(try await second.database.first("SELECT delivered_at FROM webhook_outbox"))
            #expect(try !row.decodeNil(column: "delivered_at"), "delivered by the next process")
        }
        await second.close()
        #expect(receiver.received.count > before)
        await receiver.stop()
    }
}
