import Agents
import Core
import Foundation
import LLM
import NIOHTTP1

/// What the BigQuery tools share: the project, table references, errors, the dry run and the byte cap.
struct BigQuery: Sendable {
    let api: GoogleAPI
    let accounts: ServiceAccounts

    init(api: GoogleAPI, integrations: Integrations) {
        self.api = api
        self.accounts = ServiceAccounts(integrations: integrations)
    }

    static let projectParameter: JSONValue = ["type": "string", "description": "The Google Cloud project; by default the service account's."]

    /// The arguments of the tools that take a query: bq_dry_run and bq_query.
    static let sqlParameters: JSONValue = [
        "type": "object",
        "properties": ["sql": ["type": "string", "minLength": 1, "description": "Standard SQL."],
                       "project_id": projectParameter, "integration_id": ServiceAccounts.parameter],
        "required": ["sql"],
        "additionalProperties": false,
    ]

    struct Session {
        let project: String
        let token: String
        let base: String
    }

    func session(_ arguments: JSONValue, context: ToolContext) async throws -> Session {
        let (integration, account) = try await accounts.resolve(arguments, context: context)
        let project = arguments["project_id"]?.stringValue ?? account.projectID
        do {
            let token = try await api.token(integrationID: integration.id, account: account, scope: GoogleAPI.bigQueryScope)
            return Session(project: project, token: token, base: "\(api.settings.bigQueryURL)/bigquery/v2/projects/\(project.pathSegment)")
        } catch let failure as GoogleAPI.Failure {
            throw Self.toolError(failure)
        }
    }

    func call(_ method: HTTPMethod, _ url: String, _ session: Session, body: JSONValue? = nil) async throws -> JSONValue {
        do {
            return try await api.call(method, url, token: session.token, body: body)
        } catch let failure as GoogleAPI.Failure {
            throw Self.toolError(failure)
        }
    }

    static func toolError(_ failure: GoogleAPI.Failure) -> ToolError {
        switch failure.status {
        case 403: ToolError("BigQuery denied access: \(failure.message)")
        case 404: ToolError("BigQuery could not find it: \(failure.message)")
        case 400: ToolError("BigQuery refused the query: \(failure.message)")
        default: ToolError("BigQuery failed (HTTP \(failure.status)): \(failure.message)")
        }
    }

    /// `dataset.table` or `project.dataset.table`.
    static func tableReference(_ text: String, defaultProject: String) throws -> (project: String, dataset: String, table: String) {
        let parts = text.replacingOccurrences(of: "`", with: "").split(separator: ".").map(String.init)
        switch parts.count {
        case 2: return (defaultProject, parts[0], parts[1])
        case 3: return (parts[0], parts[1], parts[2])
        default: throw ToolError("table must be dataset.table or project.dataset.table, got \(text).")
        }
    }

    /// What a dry run (free) says of `sql`: the bytes it would scan and its kind of statement (`SELECT`, `INSERT`,
    /// `DROP_TABLE`, `SCRIPT`...). It goes through jobs.insert, the call that reports the statement type.
    func dryRun(_ sql: String, _ session: Session) async throws -> (bytes: Int64, statementType: String) {
        let job = try await call(.POST, session.base + "/jobs", session, body: [
            "configuration": ["dryRun": true, "query": ["query": .string(sql), "useLegacySql": false]],
        ])
        let statistics = job["statistics"]
        let total = statistics?["totalBytesProcessed"] ?? statistics?["query"]?["totalBytesProcessed"]
        guard let bytes = total?.stringValue.flatMap(Int64.init) ?? total?.intValue.map(Int64.init) else {
            throw ToolError("BigQuery's dry run did not say how many bytes the query scans.")
        }
        return (bytes, statistics?["query"]?["statementType"]?.stringValue ?? "UNKNOWN")
    }

    var maxBytes: Int64 { api.settings.bigQueryMaxBytes }

    static func human(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// A cell of a result row: `{"v": value}`, where records and repeated fields nest.
    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: "NULL"
        case .string(let text)?: text
        case .object(let object)? where object["f"] != nil: "(" + (object["f"]?.arrayValue ?? []).map { cell($0["v"]) }.joined(separator: ", ") + ")"
        case .array(let items)?: "[" + items.map { cell($0["v"]) }.joined(separator: ", ") + "]"
        case let other?: other.jsonString
        }
    }
}

private func stringArgument(_ arguments: JSONValue, _ name: String) -> String { arguments[name]?.stringValue ?? "" }

public struct BigQueryListDatasetsTool: Tool {
    public static let name = "bq_list_datasets"
    public var name: String { Self.name }
    public let description = "List the BigQuery datasets of the project the user's service account belongs to."
    public let parameters: JSONValue = [
        "type": "object",
        "properties": ["project_id": BigQuery.projectParameter, "integration_id": ServiceAccounts.parameter],
        "additionalProperties": false,
    ]
    let bigQuery: BigQuery

    public init(api: GoogleAPI, integrations: Integrations) {
        bigQuery = BigQuery(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let session = try await bigQuery.session(arguments, context: context)
        let response = try await bigQuery.call(.GET, session.base + "/datasets?maxResults=1000", session)
        let datasets = (response["datasets"]?.arrayValue ?? []).map { dataset -> JSONValue in
            ["dataset": dataset["datasetReference"]?["datasetId"] ?? .null, "location": dataset["location"] ?? .null]
        }
        return ["project_id": .string(session.project), "datasets": .array(datasets)]
    }
}

public struct BigQueryListTablesTool: Tool {
    public static let name = "bq_list_tables"
    public var name: String { Self.name }
    public let description = "List the tables and views of a BigQuery dataset."
    public let parameters: JSONValue = [
        "type": "object",
        "properties": ["dataset": ["type": "string", "minLength": 1, "description": "The dataset id."],
                       "project_id": BigQuery.projectParameter, "integration_id": ServiceAccounts.parameter],
        "required": ["dataset"],
        "additionalProperties": false,
    ]
    let bigQuery: BigQuery

    public init(api: GoogleAPI, integrations: Integrations) {
        bigQuery = BigQuery(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let session = try await bigQuery.session(arguments, context: context)
        let dataset = stringArgument(arguments, "dataset")
        let response = try await bigQuery.call(.GET, session.base + "/datasets/\(dataset.pathSegment)/tables?maxResults=1000", session)
        let tables = (response["tables"]?.arrayValue ?? []).map { table -> JSONValue in
            ["table": table["tableReference"]?["tableId"] ?? .null, "type": table["type"] ?? .null]
        }
        return ["dataset": .string(dataset), "tables": .array(tables)]
    }
}

public struct BigQueryTableSchemaTool: Tool {
    public static let name = "bq_table_schema"
    public var name: String { Self.name }
    public let description = "The columns (name, type, mode, description), size and partitioning of a BigQuery table."
    public let parameters: JSONValue = [
        "type": "object",
        "properties": ["table": ["type": "string", "minLength": 3, "description": "dataset.table or project.dataset.table"],
                       "integration_id": ServiceAccounts.parameter],
        "required": ["table"],
        "additionalProperties": false,
    ]
    let bigQuery: BigQuery

    public init(api: GoogleAPI, integrations: Integrations) {
        bigQuery = BigQuery(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let session = try await bigQuery.session(arguments, context: context)
        let reference = try BigQuery.tableReference(stringArgument(arguments, "table"), defaultProject: session.project)
        let url = "\(bigQuery.api.settings.bigQueryURL)/bigquery/v2/projects/\(reference.project.pathSegment)/datasets/"
            + "\(reference.dataset.pathSegment)/tables/\(reference.table.pathSegment)"
        let response = try await bigQuery.call(.GET, url, session)
        var rows: [[String]] = []
        func flatten(_ fields: [JSONValue], prefix: String) {
            for field in fields {
                let name = prefix + (field["name"]?.stringValue ?? "")
                rows.append([name, field["type"]?.stringValue ?? "", field["mode"]?.stringValue ?? "NULLABLE", field["description"]?.stringValue ?? ""])
                if let nested = field["fields"]?.arrayValue { flatten(nested, prefix: name + ".") }
            }
        }
        flatten(response["schema"]?["fields"]?.arrayValue ?? [], prefix: "")
        return [
            "table": .string("\(reference.project).\(reference.dataset).\(reference.table)"),
            "rows": response["numRows"] ?? .null,
            "bytes": response["numBytes"] ?? .null,
            "partitioned_by": response["timePartitioning"]?["field"] ?? (response["timePartitioning"] != nil ? "_PARTITIONTIME" : .null),
            "columns": .string(TableText.render(columns: ["name", "type", "mode", "description"], rows: rows)),
        ]
    }
}

public struct BigQueryDryRunTool: Tool {
    public static let name = "bq_dry_run"
    public var name: String { Self.name }
    public let description = "Check a BigQuery SQL query without running it: whether it is valid and how many bytes it would scan (free)."
    public let parameters = BigQuery.sqlParameters
    let bigQuery: BigQuery

    public init(api: GoogleAPI, integrations: Integrations) {
        bigQuery = BigQuery(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let session = try await bigQuery.session(arguments, context: context)
        let (bytes, statement) = try await bigQuery.dryRun(stringArgument(arguments, "sql"), session)
        return ["bytes_processed": .int(bytes), "human": .string(BigQuery.human(bytes)), "statement_type": .string(statement),
                "within_cap": .bool(bytes <= bigQuery.maxBytes), "cap": .string(BigQuery.human(bigQuery.maxBytes)),
                "allowed": .bool(statement == "SELECT" && bytes <= bigQuery.maxBytes)]
    }
}

/// `bq_query`: always dry-runs first, and refuses anything but a single SELECT and any query over the byte cap; the
/// real job carries the cap as `maximumBytesBilled`, so BigQuery itself refuses to bill more. Rows are capped.
public struct BigQueryQueryTool: Tool {
    public static let name = "bq_query"
    public var name: String { Self.name }
    public let description = """
        Run a read-only BigQuery Standard SQL query (a single SELECT) and return the rows as a table (capped). It is \
        dry-run first and refused when it would scan more than the cap: select only the columns needed and filter on \
        partition columns.
        """
    public let parameters = BigQuery.sqlParameters
    let bigQuery: BigQuery

    public init(api: GoogleAPI, integrations: Integrations) {
        bigQuery = BigQuery(api: api, integrations: integrations)
    }

    public func execute(_ arguments: JSONValue, context: ToolContext) async throws -> JSONValue {
        let session = try await bigQuery.session(arguments, context: context)
        let sql = stringArgument(arguments, "sql")
        let (bytes, statement) = try await bigQuery.dryRun(sql, session)
        // Read-only: whatever the data holds (text written by anyone can reach the model), nothing is changed,
        // dropped, exported or scripted with the customer's account.
        guard statement == "SELECT" else {
            throw ToolError("Only a single SELECT statement can be run; this is \(statement).")
        }
        guard bytes <= bigQuery.maxBytes else {
            throw ToolError("The query would scan \(BigQuery.human(bytes)), over the cap of \(BigQuery.human(bigQuery.maxBytes)). "
                            + "Select fewer columns, filter on the partition column, or query a smaller table.")
        }
        let maxRows = bigQuery.api.settings.bigQueryMaxRows
        var response = try await bigQuery.call(.POST, session.base + "/queries", session, body: [
            "query": .string(sql), "useLegacySql": false, "maximumBytesBilled": .string(String(bigQuery.maxBytes)),
            "maxResults": .int(Int64(maxRows)), "timeoutMs": 20_000,
        ])
        // A long query answers jobComplete: false; its results are fetched until it completes (the tool's own
        // timeout bounds the wait).
        while response["jobComplete"]?.boolValue == false, let job = response["jobReference"]?["jobId"]?.stringValue {
            let location = response["jobReference"]?["location"]?.stringValue.map { "&location=\($0.pathSegment)" } ?? ""
            response = try await bigQuery.call(.GET, session.base + "/queries/\(job.pathSegment)?maxResults=\(maxRows)&timeoutMs=10000\(location)", session)
        }
        let columns = (response["schema"]?["fields"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let rows = (response["rows"]?.arrayValue ?? []).prefix(maxRows).map { row in
            (row["f"]?.arrayValue ?? []).map { BigQuery.cell($0["v"]) }
        }
        let total = response["totalRows"]?.stringValue.flatMap(Int.init) ?? rows.count
        return [
            "total_rows": .int(Int64(total)),
            "rows_shown": .int(Int64(rows.count)),
            "bytes_processed": .int(bytes),
            "table": .string(TableText.render(columns: columns, rows: Array(rows))),
        ]
    }
}
