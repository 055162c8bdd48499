import Agents
import Core
import Foundation
import LLM
import NIOHTTP1

/// What the Google Analytics 4 Data API tools share: the property argument, the call with the caller's service
/// account, and errors the model can act on.
struct GA4: Sendable {
    let api: GoogleAPI
    let accounts: ServiceAccounts

    init(api: GoogleAPI, integrations: Integrations) {
        self.api = api
        self.accounts = ServiceAccounts(integrations: integrations)
    }

    static let propertyParameter: JSONValue = ["type": "string", "description": "The GA4 property id, e.g. 123456789."]

    /// Calls `properties/<property_id><path>` with the service account the arguments name (or the caller's only one).
    func call(_ method: HTTPMethod, _ path: String, _ arguments: JSONValue, context: ToolContext,
              body: JSONValue? = nil) async throws -> (property: String, response: JSONValue) {
        let property = try Self.propertyID(arguments)
        // The app's mock flag on: the demo property answers, and no service account is needed.
        if let flag = api.settings.googleMockFlag, context.app.flags[flag] == true {
            do {
                return (property, path == "/metadata" ? GA4Mock.metadata : try GA4Mock.report(body ?? [:], property: property, today: Date()))
            } catch let failure as GoogleAPI.Failure {
                throw ToolError("GA4 refused the request: \(failure.message) (ga4_metadata lists the valid metrics and dimensions).")
            }
        }
        let (integration, account) = try await accounts.resolve(arguments, context: context)
        do {
            let token = try await api.token(integrationID: integration.id, account: account, scope: GoogleAPI.analyticsScope)
            return (property, try await api.call(method, "\(api.settings.analyticsDataURL)/v1beta/properties/\(property)\(path)",
                                                 token: token, body: body))
        } catch let failure as GoogleAPI.Failure {
            throw Self.toolError(failure, property: property, account: account)
        }
    }

    /// `123456789` or `properties/123456789`: the digits, or a tool error.
    static func propertyID(_ arguments: JSONValue) throws -> String {
        let raw = (arguments["property_id"]?.stringValue ?? "").replacingOccurrences(of: "properties/", with: "")
        guard !raw.isEmpty, raw.count <= 20, raw.allSatisfy({ $0.isASCII && $0.isWholeNumber }) else {
            throw ToolError("property_id must be the numeric id of a GA4 property, such as 123456789.")
        }
        return raw
    }

    /// Google's message, with what the model can do about it.
    static func toolError(_ failure: GoogleAPI.Failure, property: String, account: GoogleServiceAccount) -> ToolError {
        switch failure.status {
        case 403: ToolError("The service account \(account.clientEmail) has no access to GA4 property \(property): \(failure.message) "
                            + "(the property's admin must add it as a Viewer).")
        case 404: ToolError("GA4 property \(property) was not found: \(failure.message)")
        case 400: ToolError("GA4 refused the request: \(failure.message) (ga4_metadata lists the valid metrics and dimensions).")
        default: ToolError("GA4 failed (HTTP \(failure.status)): \(failure.message)")
        }
    }
}

/// `query_ga4`: a report (runReport) as a compact table.
public struct QueryGA4Tool: Tool {
    public static let name = "query_ga4"
    public var name: String { Self.name }
    public let description = """
        Run a Google Analytics 4 report (Data API runReport) on a property the user's service account can read. \
        Returns a table of the dimensions and metrics asked for. Use ga4_metadata first when unsure of the names. \
        Dates are YYYY-MM-DD, or relative: today, yesterday, 7daysAgo, 30daysAgo.
        """
    public let parameters: JSONValue = [
        "type": "object",
        "properties": [
            "property_id": GA4.propertyParameter,
            "metrics": ["type": "array", "items": ["type": "string"], "minItems": 1, "maxItems": 10,
                        "description": "Metric API names, e.g. activeUsers, sessions, screenPageViews, conversions."],
            "dimensions": ["type": "array", "items": ["type": "string"], "maxItems": 9,
                           "description": "Dimension API names, e.g. date, country, sessionSource, pagePath."],
            "date_ranges": ["type": "array", "minItems": 1, "maxItems": 4, "items": [
                "type": "object",
                "properties": ["start_date": ["type": "string"], "end_date": ["type": "string"]],
                "required": ["start_date", "end_date"], "additionalProperties": false,
            ]],
            "dimension_filter": ["type": "object", "description": "A GA4 FilterExpression, e.g. {\"filter\": {\"fieldName\": \"country\", \"stringFilter\": {\"value\": \"France\"}}}."],
            "order_by": ["type": "array", "items": [
                "type": "object", "properties": ["field": ["type": "string"], "desc": ["type": "boolean"]],
                "required": ["field"], "additionalProperties": false,
            ]],
            "limit": ["type": "integer", "minimum": 1, "maximum": 10_000, "description": "Rows to return (default 100)."],
            "integration_id": ServiceAccounts.parameter,
        ],
        "required": ["property_id", "metrics", "date_ranges"],
        "additionalProperties": false,
    ]
    let ga4: GA4

    public init(api: GoogleAPI, integrations: Integrations) {
        ga4 = GA4(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let metrics = arguments["metrics"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let dimensions = arguments["dimensions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var request: [String: JSONValue] = [
            "metrics": .array(metrics.map { ["name": .string($0)] }),
            "dimensions": .array(dimensions.map { ["name": .string($0)] }),
            "dateRanges": .array((arguments["date_ranges"]?.arrayValue ?? []).map {
                ["startDate": $0["start_date"] ?? "7daysAgo", "endDate": $0["end_date"] ?? "today"]
            }),
            "limit": .int(Int64(arguments["limit"]?.intValue ?? 100)),
        ]
        if let filter = arguments["dimension_filter"] { request["dimensionFilter"] = filter }
        if let orders = arguments["order_by"]?.arrayValue {
            request["orderBys"] = .array(orders.map { order in
                let field = order["field"]?.stringValue ?? ""
                let desc = order["desc"] ?? false
                return metrics.contains(field) ? ["metric": ["metricName": .string(field)], "desc": desc]
                    : ["dimension": ["dimensionName": .string(field)], "desc": desc]
            })
        }
        let (property, response) = try await ga4.call(.POST, ":runReport", arguments, context: context, body: .object(request))
        let columns = (response["dimensionHeaders"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            + (response["metricHeaders"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let rows = (response["rows"]?.arrayValue ?? []).map { row in
            ((row["dimensionValues"]?.arrayValue ?? []) + (row["metricValues"]?.arrayValue ?? [])).map { $0["value"]?.stringValue ?? "" }
        }
        return [
            "property_id": .string(property),
            "row_count": .int(Int64(response["rowCount"]?.intValue ?? rows.count)),
            "rows_shown": .int(Int64(rows.count)),
            "table": .string(TableText.render(columns: columns.isEmpty ? dimensions + metrics : columns, rows: rows)),
        ]
    }
}

/// `ga4_metadata`: the dimensions and metrics a property offers.
public struct GA4MetadataTool: Tool {
    public static let name = "ga4_metadata"
    public var name: String { Self.name }
    public let description = "List the dimensions and metrics (API names and labels) a GA4 property offers, custom ones included."
    public let parameters: JSONValue = [
        "type": "object",
        "properties": ["property_id": GA4.propertyParameter, "integration_id": ServiceAccounts.parameter],
        "required": ["property_id"],
        "additionalProperties": false,
    ]
    let ga4: GA4

    public init(api: GoogleAPI, integrations: Integrations) {
        ga4 = GA4(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let (property, response) = try await ga4.call(.GET, "/metadata", arguments, context: context)
        func list(_ key: String) -> JSONValue {
            .string((response[key]?.arrayValue ?? []).compactMap { item in
                item["apiName"]?.stringValue.map { name in item["uiName"]?.stringValue.map { "\(name) (\($0))" } ?? name }
            }.joined(separator: ", "))
        }
        return ["property_id": .string(property), "dimensions": list("dimensions"), "metrics": list("metrics")]
    }
}
