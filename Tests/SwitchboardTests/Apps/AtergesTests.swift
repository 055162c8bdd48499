import App
import Foundation
import LLM
import NIOHTTP1
import Testing

/// `blueprints/aterges` at its frontend's contract: built-in accounts at `/auth/*` and `/api/me`, the customer's own
/// service account kept in the vault, `POST /api/query` answered by an agent that runs GA4 reports with that account
/// (Gemini on Vertex AI in production), and conversations with their messages; and no user ever reaches another's.
@Suite("Aterges")
struct AtergesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("blueprints/aterges").path

    @Test("As the frontend uses it, with no key: sign-up, me, profile, a query on the demo property, conversations, password, logout")
    func demo() async throws {
        let (directory, environment) = try await CLI.freshEnvironment()
        let server = try await ServerProcess.start(directory: directory, environment: environment.merging(["BLUEPRINT_DIR": Self.directory]) { $1 })
        defer { server.stop() }
        let signup = try await server.post("/auth/signup", json: ["email": "ana@example.com", "password": "correct horse battery"])
        #expect(signup.status == 201, "\(signup.json)")
        let token = signup.json["access_token"] as? String ?? ""
        let me = try await server.get("/api/me", token: token)
        #expect(me.status == 200 && me.json["email"] as? String == "ana@example.com", "\(me.json)")
        #expect(try await server.request(.GET, "/api/me").status == 401, "the probe says logged out without a token")
        let profile = try await server.request(.PUT, "/api/user/profile", json: ["name": "Ana"], token: token)
        #expect(profile.status == 200 && profile.json["name"] as? String == "Ana", "\(profile.json)")

        // The demo model asks for a report; the demo property answers; the answer quotes its table.
        let query = try await server.post("/api/query", json: ["prompt": "Which country brings the most sessions?"], token: token)
        let answer = query.json["answer"] as? String ?? ""
        let conversation = query.json["conversation_id"] as? String ?? ""
        #expect(query.status == 200 && answer.contains("country | sessions | activeUsers") && !answer.contains("{{"), "\(query.json)")
        let again = try await server.post("/api/query", json: ["prompt": "And which pages?", "conversation_id": conversation], token: token)
        #expect(again.status == 200 && again.json["conversation_id"] as? String == conversation && (again.json["answer"] as? String ?? "").contains("pagePath"),
                "\(again.json)")
        let other = try await server.post("/api/query", json: ["prompt": "What metrics are there?"], token: token)
        #expect(other.status == 200 && other.json["conversation_id"] as? String != conversation, "no conversation_id: a new conversation")

        let list = try await server.get("/api/conversations", token: token)
        let titles = (list.json["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
        #expect(titles.sorted() == ["What metrics are there?", "Which country brings the most sessions?"], "\(list.json)")
        let opened = try await server.get("/api/conversations/\(conversation)", token: token)
        let roles = (opened.json["messages"] as? [[String: Any]] ?? []).compactMap { $0["role"] as? String }
        #expect(opened.status == 200 && roles == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"], "\(opened.json)")
        let created = try await server.post("/api/conversations", json: ["title": "Q3 review"], token: token)
        #expect(created.status == 201 && created.json["title"] as? String == "Q3 review", "\(created.json)")
        #expect(try await server.request(.DELETE, "/api/conversations/\(created.json["id"] as? String ?? "")", token: token).status == 204)
        #expect(try await server.get("/api/conversations/\(created.json["id"] as? String ?? "")", token: token).status == 404)

        let changed = try await server.post("/api/user/change-password",
                                            json: ["current_password": "correct horse battery", "new_password": "battery staple horse"], token: token)
        #expect(changed.status == 204, "\(changed.json)")
        let login = try await server.post("/auth/login", json: ["email": "ana@example.com", "password": "battery staple horse"])
        #expect(login.status == 200, "\(login.json)")
        let fresh = login.json["access_token"] as? String ?? ""
        #expect(try await server.post("/auth/logout", json: [:], token: fresh).status == 204)
        #expect(try await server.get("/api/me", token: fresh).status == 401, "logged out")
        #expect(try await server.get("/api/me", token: token).status == 200, "the other session stays")
    }

    @Test("Live: the user's service account in the vault, Gemini on Vertex asks for query_ga4, Google answers, the answer is stored; nobody else sees any of it")
    func live() async throws {
        let google = try await FakeGoogle.start()
        let customer = try TestServiceAccount()
        google.register(customer, properties: ["123456789"])
        // The operator's own key for Vertex AI: not the customer's, which only ever reads their GA4 property.
        let operatorAccount = try TestServiceAccount(email: "switchboard@operator-project.iam.gserviceaccount.com", project: "operator-project")
        google.register(operatorAccount, properties: [])
        var keyFile = operatorAccount.json
        keyFile = .object((keyFile.objectValue ?? [:]).merging(["token_uri": .string(google.tokenURL)]) { $1 })
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("vertex-\(UUID().uuidString).json").path
        try keyFile.jsonData.write(to: URL(fileURLWithPath: credentials))
        defer { try? FileManager.default.removeItem(atPath: credentials) }
        let gemini = try await FakeProvider.start(.gemini, [
            .toolCalls([FakeCall("query_ga4", #"{"property_id": "123456789", "metrics": ["sessions"], "dimensions": ["country"], "date_ranges": [{"start_date": "28daysAgo", "end_date": "yesterday"}]}"#)]),
            .text("France leads with 120 sessions over the last 28 days."),
            .toolCalls([FakeCall("query_ga4", #"{"property_id": "123456789", "metrics": ["sessions"], "date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}]}"#)]),
            .text("I could not read that property: the service account is missing."),
        ])
        var vertex = ModelConfig(name: "vertex", provider: .vertex, model: "gemini-2.5-flash")
        vertex.credentialsFile = credentials
        vertex.baseURL = gemini.baseURL
        vertex.vertexLocation = "europe-west1"
        let tiered = try await BlueprintConfigurationTests.settings(Self.directory)
        try await TestApp.withFakes([gemini], models: [vertex], customize: { settings in
            google.configure(&settings)
            settings.blueprintDirectory = Self.directory
            settings.plans = tiered.plans
            settings.accounts.tiers = tiered.accounts.tiers
            settings.accounts.defaultTier = tiered.accounts.defaultTier
            settings.flags["google_mock"] = false
        }) { app in
            let signup = try await app.request(.post, "/auth/signup", json: ["email": "ana-\(UUID().uuidString.prefix(6))@example.com", "password": "correct horse battery"])
            try #require(signup.status == 201, "\(signup.text)")
            let token = signup["access_token"] as? String ?? ""

            let uploaded = try await app.upload(customer.json.jsonString, fields: ["name": "Marketing site"], token: token, path: "/api/integrations")
            #expect(uploaded.status == 201 && uploaded["client_email"] as? String == customer.email, "\(uploaded.text)")
            let integration = uploaded["id"] as? String ?? ""
            let listed = try await app.request(.get, "/api/integrations", token: token)
            #expect((listed["items"] as? [[String: Any]])?.first?["name"] as? String == "Marketing site", "\(listed.text)")
            #expect(!listed.text.contains("PRIVATE KEY") && !uploaded.text.contains("PRIVATE KEY"), "metadata only")

            let query = try await app.request(.post, "/api/query", json: ["prompt": "Where do my visitors come from?"], token: token)
            #expect(query.status == 200 && query["answer"] as? String == "France leads with 120 sessions over the last 28 days.", "\(query.text)")
            let conversation = query["conversation_id"] as? String ?? ""
            // Gemini was reached through Vertex with the operator's token, and offered the GA4 tools.
            #expect(gemini.requests.first?.path == "/v1/projects/operator-project/locations/europe-west1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
            let offered = gemini.requests.first?.body.jsonString ?? ""
            #expect(offered.contains("query_ga4") && offered.contains("ga4_metadata") && !offered.contains("bq_query"))
            // The report ran on the customer's property, and its table went back to the model.
            #expect(google.requests.contains { $0.path == "/v1beta/properties/123456789:runReport" })
            #expect(gemini.requests.count == 2 && gemini.requests[1].body.jsonString.contains("France | 120"))

            // The alias's include=messages stands, whatever include the client sends.
            let opened = try await app.request(.get, "/api/conversations/\(conversation)?include=nothing", token: token)
            let messages = opened["messages"] as? [[String: Any]] ?? []
            #expect(messages.compactMap { $0["role"] as? String } == ["user", "assistant", "tool", "assistant"], "\(opened.text)")
            #expect(messages.last?.text == "France leads with 120 sessions over the last 28 days.")
            #expect(opened["title"] as? String == "Where do my visitors come from?")

            // Another user: nothing of the first is theirs, by list or by id.
            let second = try await app.signup()
            #expect((try await app.request(.get, "/api/conversations", token: second.access))["total"] as? Int == 0)
            #expect((try await app.request(.get, "/api/integrations", token: second.access))["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/conversations/\(conversation)", token: second.access).status == 404)
            #expect(try await app.request(.delete, "/api/conversations/\(conversation)", token: second.access).status == 404)
            #expect(try await app.request(.delete, "/api/integrations/\(integration)", token: second.access).status == 404)
            let borrowed = try await app.request(.post, "/api/query", json: ["prompt": "Sessions?", "conversation_id": conversation], token: second.access)
            #expect(borrowed.status == 404, "\(borrowed.text)")
            #expect(gemini.requests.count == 2, "no model call for a refused query")

            // Deleting the integration destroys the key: the next report has no service account to run with.
            #expect(try await app.request(.delete, "/api/integrations/\(integration)", token: token).status == 204)
            let streamed = try await app.request(.post, "/api/query", json: ["prompt": "And last week?", "conversation_id": conversation, "stream": true],
                                                 token: token)
            #expect(streamed.headers[.contentType] == "text/event-stream", "\(streamed.text)")
            for event in ["event: tool.call", "event: tool.result", "event: message.delta", "event: done"] {
                #expect(streamed.text.contains(event), "every step streams: \(event)")
            }
            #expect(gemini.requests.count == 4 && gemini.requests[3].body.jsonString.contains("service account"))
            #expect(try await app.request(.get, "/api/integrations/\(integration)", token: token).status == 405, "no such alias: only the contract's")
        }
        await google.stop()
    }

    @Test("The served contract lists the app's paths with the platform's operations, and aliases with parameters resolve")
    func contract() async throws {
        try await TestApp.run(customize: { $0.blueprintDirectory = Self.directory }) { app in
            let contract = try await app.request(.get, "/openapi.json")
            let paths = contract["paths"] as? [String: [String: Any]] ?? [:]
            for (path, method) in [("/auth/signup", "post"), ("/auth/login", "post"), ("/auth/logout", "post"), ("/api/me", "get"),
                                   ("/api/user/profile", "put"), ("/api/user/change-password", "post"), ("/api/integrations", "get"),
                                   ("/api/integrations", "post"), ("/api/integrations/{id}", "delete"), ("/api/query", "post"),
                                   ("/api/conversations", "get"), ("/api/conversations", "post"), ("/api/conversations/{id}", "get"),
                                   ("/api/conversations/{id}", "delete")] {
                #expect(paths[path]?[method] != nil, "\(method) \(path)")
            }
            // The alias fixes include=messages: the client is not asked for it, and the id is described.
            let get = paths["/api/conversations/{id}"]?["get"] as? [String: Any]
            let names = (get?["parameters"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? ($0["$ref"] as? String ?? "") }
            #expect(!names.contains("include") && names.contains { $0.hasSuffix("ConversationID") }, "\(names)")
            let signup = try await app.request(.post, "/auth/signup", json: ["email": "x@example.com", "password": "correct horse battery"])
            let token = signup["access_token"] as? String ?? ""
            // An empty segment is no id: the alias does not match, and the path is the list's, which has no DELETE.
            #expect(try await app.request(.delete, "/api/conversations/", token: token).status == 405)
            #expect(try await app.request(.get, "/api/conversations/not-a-uuid", token: token).status == 404)
        }
    }
}
