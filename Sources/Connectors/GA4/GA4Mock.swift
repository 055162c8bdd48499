import Core
import Crypto
import Foundation
import LLM

/// Google Analytics 4 without Google: believable, deterministic reports for demos and frontend work, in the Data
/// API's own response shapes, so the tools read them exactly as they read real ones. Served instead of the live API
/// while the app's flag `google.mock_flag` (default `google_mock`) is on; no service account is needed then.
enum GA4Mock {
    /// The values a dimension takes in the demo property.
    static let values: [String: [String]] = [
        "country": ["United States", "United Kingdom", "Germany", "France", "India", "Canada", "Brazil", "Japan"],
        "city": ["New York", "London", "Berlin", "Paris", "Bengaluru", "Toronto", "São Paulo", "Tokyo"],
        "sessionSource": ["google", "(direct)", "newsletter", "linkedin.com", "bing", "github.com"],
        "sessionMedium": ["organic", "(none)", "email", "referral", "cpc"],
        "sessionDefaultChannelGroup": ["Organic Search", "Direct", "Email", "Referral", "Paid Search", "Organic Social"],
        "deviceCategory": ["desktop", "mobile", "tablet"],
        "pagePath": ["/", "/pricing", "/blog/launch", "/docs/getting-started", "/signup", "/blog/benchmarks", "/about"],
        "pageTitle": ["Home", "Pricing", "We launched", "Getting started", "Sign up", "Benchmarks", "About us"],
        "eventName": ["page_view", "session_start", "first_visit", "scroll", "click", "sign_up", "purchase"],
        "browser": ["Chrome", "Safari", "Edge", "Firefox"],
        "operatingSystem": ["Windows", "iOS", "Android", "Macintosh", "Linux"],
        "newVsReturning": ["new", "returning"],
    ]

    static let metrics: [(name: String, label: String, scale: Double, ratio: Bool)] = [
        ("activeUsers", "Active users", 900, false), ("newUsers", "New users", 400, false), ("totalUsers", "Total users", 1_000, false),
        ("sessions", "Sessions", 1_300, false), ("engagedSessions", "Engaged sessions", 800, false),
        ("screenPageViews", "Views", 3_200, false), ("eventCount", "Event count", 9_000, false), ("conversions", "Conversions", 40, false),
        ("keyEvents", "Key events", 40, false), ("totalRevenue", "Total revenue", 2_500, false),
        ("bounceRate", "Bounce rate", 0.45, true), ("engagementRate", "Engagement rate", 0.62, true),
        ("averageSessionDuration", "Average session duration", 140, true), ("sessionsPerUser", "Sessions per user", 1.4, true),
    ]

    static var metadata: JSONValue {
        [
            "dimensions": .array((["date"] + values.keys.sorted()).map { ["apiName": .string($0), "uiName": .string($0)] }),
            "metrics": .array(metrics.map { ["apiName": .string($0.name), "uiName": .string($0.label)] }),
        ]
    }

    /// A `runReport` answer for `request` (the body the tool sends): every combination of the dimensions' values
    /// (dates over the first range), each metric a stable number derived from the row, rows as `limit` allows.
    static func report(_ request: JSONValue, property: String, today: Date) throws -> JSONValue {
        let dimensions = (request["dimensions"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let metricNames = (request["metrics"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        for name in metricNames where !metrics.contains(where: { $0.name == name }) {
            throw GoogleAPI.Failure(status: 400, message: "Did you mean one of \(metrics.map(\.name).joined(separator: ", "))? Field \(name) is not a valid metric.")
        }
        for name in dimensions where name != "date" && values[name] == nil {
            throw GoogleAPI.Failure(status: 400, message: "Field \(name) is not a valid dimension.")
        }
        let range = request["dateRanges"]?.arrayValue?.first
        let days = dates(from: range?["startDate"]?.stringValue ?? "7daysAgo", to: range?["endDate"]?.stringValue ?? "today", today: today)
        var rows: [[String]] = [[]]
        for dimension in dimensions {
            let options = dimension == "date" ? days : values[dimension] ?? []
            rows = rows.flatMap { row in options.map { row + [$0] } }
            if rows.count > 10_000 { rows = Array(rows.prefix(10_000)) }
        }
        let limit = min(request["limit"]?.intValue ?? 100, 10_000)
        let shown = rows.prefix(max(1, limit)).map { row -> JSONValue in
            let metricValues = metricNames.compactMap { name in metrics.first { $0.name == name } }.map { metric -> JSONValue in
                let noise = fraction(property + "|" + row.joined(separator: "|") + "|" + metric.name)
                // A count is a daily amount over the range's days, shared among the rows; a ratio varies around its level.
                let value = metric.ratio ? metric.scale * (0.8 + 0.4 * noise)
                    : metric.scale * Double(max(1, days.count)) / Double(max(1, rows.count)) * (0.5 + noise)
                return ["value": .string(metric.ratio ? String(format: "%.3f", value) : String(Int(value.rounded())))]
            }
            return ["dimensionValues": .array(row.map { ["value": .string($0)] }), "metricValues": .array(metricValues)]
        }
        return [
            "dimensionHeaders": .array(dimensions.map { ["name": .string($0)] }),
            "metricHeaders": .array(metricNames.map { ["name": .string($0), "type": "TYPE_INTEGER"] }),
            "rows": .array(Array(shown)), "rowCount": .int(Int64(rows.count)),
            "metadata": ["currencyCode": "USD", "timeZone": "Etc/UTC"],
        ]
    }

    /// The days of a GA4 date range (`YYYY-MM-DD`, `today`, `yesterday`, `NdaysAgo`) as GA4 writes them
    /// (`20261202`), at most 366.
    static func dates(from start: String, to end: String, today: Date) -> [String] {
        let todayMillis = today.millis - today.millis % 86_400_000
        func day(_ text: String) -> Int64? {
            switch text {
            case "today": return todayMillis
            case "yesterday": return todayMillis - 86_400_000
            default:
                if text.hasSuffix("daysAgo"), let n = Int64(text.dropLast("daysAgo".count)), (0...3_650).contains(n) {
                    return todayMillis - 86_400_000 * n
                }
                return text.count == 10 ? RFC3339.millis(text + "T00:00:00Z") : nil
            }
        }
        guard let first = day(start), let last = day(end), first <= last else { return [] }
        return stride(from: first, through: last, by: 86_400_000).prefix(366).map { millis in
            RFC3339.format(millis: millis).prefix(10).replacingOccurrences(of: "-", with: "")
        }
    }

    /// A stable number in [0, 1) from `text`.
    static func fraction(_ text: String) -> Double {
        let digest = Array(SHA256.hash(data: Data(text.utf8)))
        let value = digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Double(value) / Double(UInt32.max)
    }
}
