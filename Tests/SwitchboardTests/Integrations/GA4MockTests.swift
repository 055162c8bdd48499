import App
@testable import Connectors
import Foundation
import LLM
import Testing

/// A connector switched to its demo data by an app flag.
@Suite("GA4 demo data by flag")
struct GA4MockTests {
    static let yaml = """
        blueprint: 1
        app: {name: analytics}
        flags:
          google_mock: {default: true}
        agents:
          analyst: {description: Reads GA4, system: prompts/analyst.md, tools: [query_ga4, ga4_metadata]}
        """

    static let call = FakeCall("query_ga4", #"""
        {"property_id": "123456", "metrics": ["activeUsers", "bounceRate"], "dimensions": ["country", "date"],
         "date_ranges": [{"start_date": "2026-11-01", "end_date": "2026-11-03"}], "limit": 5}
        """#)

    @Test("With the app's flag on, the GA4 tools answer from demo data with no service account; off, they need one")
    func switchesByFlag() async throws {
        for mock in [true, false] {
            let fake = try await FakeProvider.start(.openai, [.toolCalls([Self.call]), .text("Done.")])
            let directory = try TestBlueprint.directory(Self.yaml, files: ["prompts/analyst.md": "You read analytics."])
            try await TestApp.withFakes([fake], customize: { settings in
                settings.blueprintDirectory = directory
                if !mock { settings.flags["google_mock"] = false }
            }) { app in
                let user = try await app.signup()
                let conversation = try await app.conversation(user.access)
                _ = try await app.send(conversation, "How many users by country?", token: user.access, extra: ["agent": "analyst"])
                let result = try #require(try await app.messages(conversation, token: user.access).flatMap(\.toolResults).first)
                let content = result["content"] as? [String: Any]
                if mock {
                    #expect(result["is_error"] as? Bool == false, "\(result)")
                    #expect(content?["row_count"] as? Int == 8 * 3, "every country on every day")
                    #expect(content?["rows_shown"] as? Int == 5)
                    let table = content?["table"] as? String ?? ""
                    #expect(table.contains("United States") && table.contains("20261101"), "\(table)")
                } else {
                    #expect(result["is_error"] as? Bool == true, "live GA4 needs the user's service account: \(result)")
                }
            }
        }
    }

    @Test("Demo reports are stable, follow the date range, and refuse names GA4 would refuse")
    func demoReports() throws {
        let request: JSONValue = ["metrics": [["name": "sessions"]], "dimensions": [["name": "date"]],
                                  "dateRanges": [["startDate": "3daysAgo", "endDate": "today"]], "limit": 100]
        let today = Date(timeIntervalSince1970: 1_764_633_600) // 2025-12-02
        let report = try GA4Mock.report(request, property: "1", today: today)
        #expect(report == (try GA4Mock.report(request, property: "1", today: today)))
        #expect(report["rows"]?.arrayValue?.compactMap { $0["dimensionValues"]?[0]?["value"]?.stringValue }
                == ["20251129", "20251130", "20251201", "20251202"])
        #expect(report["rows"]?.arrayValue?.allSatisfy { Int($0["metricValues"]?[0]?["value"]?.stringValue ?? "") ?? 0 > 0 } == true)
        #expect(throws: GoogleAPI.Failure.self) {
            try GA4Mock.report(["metrics": [["name": "revenuePerMoon"]]], property: "1", today: today)
        }
    }
}
