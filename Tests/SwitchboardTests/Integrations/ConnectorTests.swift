import Agents
import App
import Connectors
import Core
import Foundation
import LLM
import Testing

@Suite("Google connectors")
struct ConnectorTests {
    /// The connectors' tools, as the orchestrator would run them for `userID`.
    struct Tools {
        let api: GoogleAPI
        let integrations: Integrations
        let userID: UUID

        func run(_ tool: any Tool, _ arguments: JSONValue) async throws -> JSONValue {
            let violations = JSONSchema.validate(arguments, against: tool.parameters)
            #expect(violations.isEmpty, "\(violations)")
            return try await tool.execute(arguments, context: ToolContext(userID: userID, conversationID: UUID(), logger: TestDatabase.logger))
        }

        /// The message the model would read for a failed call.
        func failure(_ tool: any Tool, _ arguments: JSONValue) async -> String {
            do {
                _ = try await run(tool, arguments)
                return "(no error)"
            } catch let error as ToolError {
                return error.message
            } catch {
                return "(not a tool error: \(error))"
            }
        }
    }

    static func tools(_ app: TestApp, google: FakeGoogle, user: Tokens) -> Tools {
        Tools(api: GoogleAPI(settings: app.settings.connectors), integrations: app.server.integrations, userID: UUID(uuidString: user.userID)!)
    }

    @Test("query_ga4 runs a report with the caller's service account and returns a compact table; errors come back readable")
    func ga4() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account, properties: ["123456789"])
        try await TestApp.withGoogle(google) { app in
            let user = try await app.signup()
            _ = try await app.connect(account, token: user.access)
            let tools = Self.tools(app, google: google, user: user)
            let query = QueryGA4Tool(api: tools.api, integrations: tools.integrations)
            let report = try await tools.run(query, [
                "property_id": "properties/123456789", "metrics": ["sessions"], "dimensions": ["country"],
                "date_ranges": [["start_date": "7daysAgo", "end_date": "today"]], "order_by": [["field": "sessions", "desc": true]], "limit": 10,
            ])
            #expect(report["row_count"] == 3)
            #expect(report["table"]?.stringValue == "country | sessions\nFrance | 120\nJapan | 80\nBrazil | 45")
            let sent = try #require(google.requests.last { $0.path.hasSuffix(":runReport") })
            #expect(sent.path == "/v1beta/properties/123456789:runReport")
            #expect(sent.body["orderBys"]?[0]?["metric"]?["metricName"] == "sessions")
            #expect(sent.body["dateRanges"]?[0]?["startDate"] == "7daysAgo")

            _ = try await tools.run(query, ["property_id": "123456789", "metrics": ["activeUsers"], "date_ranges": [["start_date": "2026-01-01", "end_date": "2026-01-31"]]])
            #expect(google.issued == 1, "the access token is cached per integration and scope")

            let metadata = try await tools.run(GA4MetadataTool(api: tools.api, integrations: tools.integrations), ["property_id": "123456789"])
            #expect(metadata["metrics"]?.stringValue?.contains("sessions (Sessions)") == true)

            let badMetric = await tools.failure(query, ["property_id": "123456789", "metrics": ["revenue_per_unicorn"], "date_ranges": [["start_date": "today", "end_date": "today"]]])
            #expect(badMetric.contains("revenue_per_unicorn is not a valid metric"))
            let noAccess = await tools.failure(query, ["property_id": "555", "metrics": ["sessions"], "date_ranges": [["start_date": "today", "end_date": "today"]]])
            #expect(noAccess.contains("has no access to GA4 property 555"))
            #expect(noAccess.contains(account.email))
            let badProperty = await tools.failure(query, ["property_id": "../../admin", "metrics": ["sessions"], "date_ranges": [["start_date": "today", "end_date": "today"]]])
            #expect(badProperty.contains("numeric id"))
        }
        await google.stop()
    }

    @Test("BigQuery: datasets, tables, schema, dry run, and queries that are dry-run first, capped in bytes and rows")
    func bigQuery() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account)
        try await TestApp.withGoogle(google, customize: { $0.connectors.bigQueryMaxRows = 2 }) { app in
            let user = try await app.signup()
            _ = try await app.connect(account, token: user.access)
            let tools = Self.tools(app, google: google, user: user)
            let api = tools.api
            let datasets = try await tools.run(BigQueryListDatasetsTool(api: api, integrations: tools.integrations), [:])
            #expect(datasets["datasets"]?[0]?["dataset"] == "analytics")
            let tables = try await tools.run(BigQueryListTablesTool(api: api, integrations: tools.integrations), ["dataset": "analytics"])
            #expect(tables["tables"]?.arrayValue?.count == 2)
            let schema = try await tools.run(BigQueryTableSchemaTool(api: api, integrations: tools.integrations), ["table": "analytics.events"])
            #expect(schema["partitioned_by"] == "event_date")
            #expect(schema["columns"]?.stringValue?.contains("user.country | STRING") == true)
            let dry = try await tools.run(BigQueryDryRunTool(api: api, integrations: tools.integrations), ["sql": "SELECT country FROM analytics.events"])
            #expect(dry["bytes_processed"] == 1_048_576)
            #expect(dry["within_cap"] == true)
            #expect(dry["statement_type"] == "SELECT")
            #expect(google.requests.last?.path.hasSuffix("/jobs") == true, "dry runs go through jobs.insert, which reports the statement type")

            let query = BigQueryQueryTool(api: api, integrations: tools.integrations)
            let result = try await tools.run(query, ["sql": "SELECT country, revenue, tags FROM analytics.events"])
            #expect(result["table"]?.stringValue == "country | revenue | tags\nFrance | 100 | [a, b]\nJapan | 200 | [a, b]", "rows capped at 2")
            #expect(result["total_rows"] == 3)
            let run = try #require(google.requests.last { $0.path.hasSuffix("/queries") && $0.body["dryRun"] != true })
            #expect(run.body["maximumBytesBilled"] == .string(String(100 * 1024 * 1024)), "BigQuery itself refuses to bill more than the cap")
            #expect(run.body["useLegacySql"] == false)

            let before = google.requests.count
            let refused = await tools.failure(query, ["sql": "SELECT * FROM analytics.big_table"])
            #expect(refused.contains("500.0 GB"))
            #expect(refused.contains("over the cap of 100.0 MB"))
            // Read-only: statements that change, drop, export or script are refused, whatever the data told the model.
            for sql in ["DROP TABLE analytics.events", "INSERT INTO analytics.events VALUES (1)",
                        "SELECT 1; DROP TABLE analytics.events", "EXPORT DATA OPTIONS(uri='gs://x/*') AS SELECT 1"] {
                #expect(await tools.failure(query, ["sql": .string(sql)]).contains("Only a single SELECT statement can be run"), "\(sql)")
            }
            #expect(google.requests.dropFirst(before).allSatisfy { $0.path.hasSuffix("/jobs") }, "a refused query never runs")

            let slow = try await tools.run(query, ["sql": "SELECT 'slow' AS country"])
            #expect(slow["total_rows"] == 2)
            #expect(google.requests.contains { $0.path.contains("/queries/job_slow") && $0.path.contains("location=EU") })
            #expect(await tools.failure(query, ["sql": "SELECT syntax error"]).contains("Syntax error"))
        }
        await google.stop()
    }

    @Test("A tool uses the only service account, or the one named; never another user's")
    func choosingTheAccount() async throws {
        let google = try await FakeGoogle.start()
        let mine = try TestServiceAccount(), second = try TestServiceAccount(), theirs = try TestServiceAccount()
        for account in [mine, second, theirs] { google.register(account) }
        try await TestApp.withGoogle(google) { app in
            let user = try await app.signup(), other = try await app.signup()
            let tools = Self.tools(app, google: google, user: user)
            let list = BigQueryListDatasetsTool(api: tools.api, integrations: tools.integrations)
            #expect(await tools.failure(list, [:]).contains("No Google service account is connected"))
            let first = try await app.connect(mine, token: user.access, name: "Marketing")
            #expect(try await tools.run(list, [:])["project_id"] == "acme-data")
            _ = try await app.connect(second, token: user.access, name: "Finance")
            let ambiguous = await tools.failure(list, [:])
            #expect(ambiguous.contains("pass integration_id") && ambiguous.contains("Marketing") && ambiguous.contains("Finance"))
            #expect(try await tools.run(list, ["integration_id": .string(first)])["datasets"] != nil)
            let foreign = try await app.connect(theirs, token: other.access)
            #expect(await tools.failure(list, ["integration_id": .string(foreign)]).contains("No Google service-account integration has the id"))
        }
        await google.stop()
    }

    @Test("End to end: the analytics agent's model asks for query_ga4, gets the table, and answers with it", arguments: [FakeProvider.Kind.openai, .anthropic])
    func analyticsChat(kind: FakeProvider.Kind) async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account)
        let model = try await FakeProvider.start(kind, [
            .toolCalls([FakeCall("query_ga4", #"{"property_id": "123456789", "metrics": ["sessions"], "dimensions": ["country"], "date_ranges": [{"start_date": "28daysAgo", "end_date": "yesterday"}]}"#)]),
            .text("France leads with 120 sessions."),
        ])
        try await TestApp.withGoogle(google, fakes: [model]) { app in
            let user = try await app.signup()
            _ = try await app.connect(account, token: user.access)
            let agents = try await app.request(.get, "/api/v1/agents", token: user.access)
            let names = (agents["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["analytics", "assistant", "warehouse"])

            let conversation = try await app.conversation(user.access)
            let reply = try await app.send(conversation, "Which country brought the most sessions last month?", token: user.access,
                                           extra: ["agent": "analytics"])
            #expect(reply.status == 200, "\(reply.text)")
            #expect((reply["message"] as? [String: Any])?.text == "France leads with 120 sessions.")
            let stored = try await app.messages(conversation, token: user.access)
            let result = try #require(stored.first { $0.role == "tool" }?.toolResults.first)
            #expect(result["is_error"] as? Bool == false)
            #expect(((result["content"] as? [String: Any])?["table"] as? String)?.hasPrefix("country | sessions\nFrance | 120") == true)
            // The model was told about the GA4 tools and got the table back.
            let first = model.requests[0].body.jsonString
            #expect(first.contains("query_ga4") && first.contains("ga4_metadata") && !first.contains("bq_query"))
            #expect(model.requests[1].body.jsonString.contains("France | 120"))
        }
        await model.stop()
        await google.stop()
    }
}
