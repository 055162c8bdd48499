import App
import Core
import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore
import Synchronization

/// A service account for tests: a real RSA key, its JSON key file, and the public half the fake token endpoint checks.
struct TestServiceAccount: Sendable {
    let email: String
    let project: String
    let key: _RSA.Signing.PrivateKey

    init(email: String = "reporter-\(UUID().uuidString.prefix(6).lowercased())@acme-data.iam.gserviceaccount.com", project: String = "acme-data") throws {
        self.email = email
        self.project = project
        self.key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
    }

    var pem: String { key.pkcs8PEMRepresentation }

    /// The JSON key file, as Google Cloud hands it out.
    var json: JSONValue {
        ["type": "service_account", "project_id": .string(project), "private_key_id": "0123456789abcdef",
         "private_key": .string(pem), "client_email": .string(email), "client_id": "1234567890",
         "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"]
    }

    /// Chunks of the private key's base64 body: none of them may ever appear in the database or the logs.
    var keyFragments: [String] {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return stride(from: 0, to: body.count - 24, by: 24).map { String(body.dropFirst($0).prefix(24)) }
    }
}

/// Google as the connectors see it, on 127.0.0.1: the OAuth token endpoint (verifying the RS256 assertion with the
/// account's public key), the GA4 Data and Admin APIs, BigQuery, and Cloud KMS, with realistic answers and errors.
final class FakeGoogle: Sendable {
    struct Account: Sendable {
        let publicKey: _RSA.Signing.PublicKey
        var revoked = false
        var properties: Set<String> = []
    }

    private let accounts = Mutex<[String: Account]>([:])
    /// Tokens issued, by token: the account they belong to.
    private let tokens = Mutex<[String: String]>([:])
    private let recorded = Mutex<[(path: String, body: JSONValue)]>([])
    private let kmsKey = SymmetricKey(size: .bits256)
    private let slot = FakeServerSlot()

    var baseURL: String { slot.baseURL }
    var tokenURL: String { baseURL + "/token" }
    var issued: Int { tokens.withLock { $0.count } }
    var requests: [(path: String, body: JSONValue)] { recorded.withLock { $0 } }

    func register(_ account: TestServiceAccount, properties: Set<String> = ["123456789"]) {
        accounts.withLock { $0[account.email] = Account(publicKey: account.key.publicKey, properties: properties) }
    }

    func revoke(_ account: TestServiceAccount) {
        accounts.withLock { $0[account.email]?.revoked = true }
    }

    static func start() async throws -> FakeGoogle {
        let fake = FakeGoogle()
        let router = Router()
        router.post("/token") { request, _ in try await fake.token(request) }
        router.on("**", method: .get) { request, _ in try await fake.api(request) }
        router.on("**", method: .post) { request, _ in try await fake.api(request) }
        let server = try await FakeServer.start(router)
        fake.slot.hold(server)
        return fake
    }

    func stop() async {
        await slot.stop()
    }

    /// Settings that send every connector here.
    func configure(_ settings: inout Settings) {
        settings.connectors.googleTokenURL = tokenURL
        settings.connectors.analyticsDataURL = baseURL
        settings.connectors.analyticsAdminURL = baseURL
        settings.connectors.bigQueryURL = baseURL
        settings.connectors.openAIURL = baseURL + "/openai/v1"
    }

    // MARK: OAuth

    private func token(_ request: Request) async throws -> Response {
        var request = request
        let form = String(buffer: try await request.collectBody(upTo: 1 << 16))
        let fields = Dictionary(form.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], (parts.count > 1 ? parts[1] : "").removingPercentEncoding ?? "")
        }, uniquingKeysWith: { $1 })
        let parts = (fields["assertion"] ?? "").split(separator: ".").map(String.init)
        guard fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", parts.count == 3,
              let header = Data(base64URLEncoded: parts[0]).flatMap(JSONValue.parse), header["alg"] == "RS256",
              let claims = Data(base64URLEncoded: parts[1]).flatMap(JSONValue.parse),
              let email = claims["iss"]?.stringValue, let account = accounts.withLock({ $0[email] }),
              let signature = Data(base64URLEncoded: parts[2]),
              account.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature),
                                                 for: Data((parts[0] + "." + parts[1]).utf8), padding: .insecurePKCS1v1_5),
              claims["aud"]?.stringValue == tokenURL,
              let expires = claims["exp"]?.intValue, expires > Int(Date().timeIntervalSince1970)
        else {
            return Self.json(400, ["error": "invalid_grant", "error_description": "Invalid JWT Signature."])
        }
        guard !account.revoked else {
            return Self.json(400, ["error": "invalid_grant", "error_description": "Invalid grant: account not found"])
        }
        let token = "ya29.fake-\(UUID().uuidString.lowercased())"
        tokens.withLock { $0[token] = email }
        return Self.json(200, ["access_token": .string(token), "expires_in": 3599, "token_type": "Bearer"])
    }

    // MARK: APIs

    private func api(_ request: Request) async throws -> Response {
        var request = request
        let body = JSONValue.parse(Data(buffer: try await request.collectBody(upTo: 1 << 20))) ?? .null
        let path = request.uri.path
        recorded.withLock { $0.append((request.uri.description, body)) }
        if path.hasPrefix("/v1/projects/"), path.contains("/cryptoKeys/") { return kms(path, body) }
        if path.hasPrefix("/openai/v1/models") {
            return request.headers[.authorization] == "Bearer sk-good" ? Self.json(200, ["data": []])
                : Self.json(401, ["error": ["message": "Incorrect API key provided."]])
        }
        guard let bearer = request.headers[.authorization]?.replacingOccurrences(of: "Bearer ", with: ""),
              let email = tokens.withLock({ $0[bearer] }), let account = accounts.withLock({ $0[email] }) else {
            return Self.googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        }
        if path.hasPrefix("/v1beta/properties/") { return ga4(path, body, account) }
        if path == "/v1beta/accountSummaries" {
            return Self.json(200, ["accountSummaries": [["account": "accounts/1", "propertySummaries": .array(account.properties.sorted().map {
                ["property": .string("properties/\($0)"), "displayName": "Web"]
            })]]])
        }
        if path.hasPrefix("/bigquery/v2/projects/") { return bigQuery(path, request.uri.description, body) }
        return Self.googleError(404, "NOT_FOUND", "No such API: \(path)")
    }

    private static let metrics = ["sessions", "activeUsers", "screenPageViews"]
    private static let dimensions = ["country", "date", "sessionSource"]

    private func ga4(_ path: String, _ body: JSONValue, _ account: Account) -> Response {
        let rest = path.dropFirst("/v1beta/properties/".count)
        let property = String(rest.prefix { $0.isNumber })
        guard account.properties.contains(property) else {
            return Self.googleError(403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property.")
        }
        if rest.hasSuffix("/metadata") {
            return Self.json(200, ["name": .string("properties/\(property)/metadata"),
                                   "dimensions": .array(Self.dimensions.map { ["apiName": .string($0), "uiName": .string($0.capitalized)] }),
                                   "metrics": .array(Self.metrics.map { ["apiName": .string($0), "uiName": .string($0.capitalized)] })])
        }
        let metrics = body["metrics"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        let dimensions = body["dimensions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        if let bad = metrics.first(where: { !Self.metrics.contains($0) }) {
            return Self.googleError(400, "INVALID_ARGUMENT", "Field \(bad) is not a valid metric. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema")
        }
        let countries = [("France", 120), ("Japan", 80), ("Brazil", 45)]
        let rows: [JSONValue] = countries.map { country, sessions in
            ["dimensionValues": .array(dimensions.map { $0 == "country" ? ["value": .string(country)] : ["value": "(other)"] }),
             "metricValues": .array(metrics.enumerated().map { index, _ in ["value": .string(String(sessions * (index + 1)))] })]
        }
        return Self.json(200, [
            "dimensionHeaders": .array(dimensions.map { ["name": .string($0)] }),
            "metricHeaders": .array(metrics.map { ["name": .string($0), "type": "TYPE_INTEGER"] }),
            "rows": .array(rows), "rowCount": .int(Int64(rows.count)),
            "metadata": ["currencyCode": "USD", "timeZone": "Europe/Paris"], "kind": "analyticsData#runReport",
        ])
    }

    private func bigQuery(_ path: String, _ uri: String, _ body: JSONValue) -> Response {
        let parts = path.split(separator: "/").map(String.init) // bigquery v2 projects P ...
        guard parts.count >= 4 else { return Self.googleError(404, "NOT_FOUND", "Not found") }
        let project = parts[3]
        let rest = Array(parts.dropFirst(4))
        switch rest.first {
        case "datasets" where rest.count == 1:
            return Self.json(200, ["kind": "bigquery#datasetList", "datasets": [
                ["id": .string("\(project):analytics"), "datasetReference": ["datasetId": "analytics", "projectId": .string(project)], "location": "EU"],
            ]])
        case "datasets" where rest.count == 3:
            return Self.json(200, ["tables": [
                ["tableReference": ["tableId": "events"], "type": "TABLE"], ["tableReference": ["tableId": "big_table"], "type": "TABLE"],
            ], "totalItems": 2])
        case "datasets" where rest.count == 4:
            guard rest[3] == "events" else { return Self.googleError(404, "NOT_FOUND", "Not found: Table \(project):\(rest[1]).\(rest[3])") }
            return Self.json(200, ["schema": ["fields": [
                ["name": "event_date", "type": "DATE", "mode": "NULLABLE"],
                ["name": "user", "type": "RECORD", "mode": "NULLABLE", "fields": [["name": "country", "type": "STRING", "mode": "NULLABLE"]]],
                ["name": "revenue", "type": "NUMERIC", "mode": "NULLABLE", "description": "In EUR"],
            ]], "numRows": "1200", "numBytes": "48000", "timePartitioning": ["type": "DAY", "field": "event_date"]])
        case "jobs" where rest.count == 1 && body["configuration"]?["dryRun"] == true:
            // A dry run through jobs.insert: the bytes and the statement type, nothing run.
            let sql = body["configuration"]?["query"]?["query"]?.stringValue ?? ""
            if sql.lowercased().contains("syntax error") {
                return Self.googleError(400, "INVALID_ARGUMENT", "Syntax error: Unexpected identifier \"error\" at [1:8]")
            }
            let bytes = sql.contains("big_table") ? "536870912000" : "1048576"
            let text = sql.lowercased().trimmingCharacters(in: .whitespaces)
            let statement = text.dropLast(text.hasSuffix(";") ? 1 : 0).contains(";") ? "SCRIPT"
                : text.hasPrefix("drop table") ? "DROP_TABLE" : text.hasPrefix("insert") ? "INSERT"
                : text.hasPrefix("export data") ? "EXPORT_DATA" : "SELECT"
            return Self.json(200, ["kind": "bigquery#job", "status": ["state": "DONE"], "configuration": body["configuration"] ?? .null,
                                   "statistics": ["totalBytesProcessed": .string(bytes),
                                                  "query": ["totalBytesProcessed": .string(bytes), "statementType": .string(statement)]]])
        case "queries" where rest.count == 1:
            let sql = body["query"]?.stringValue ?? ""
            if sql.contains("slow") {
                return Self.json(200, ["jobComplete": false, "jobReference": ["projectId": .string(project), "jobId": "job_slow", "location": "EU"]])
            }
            return Self.queryResult(rows: 3)
        case "queries" where rest.count == 2:
            return Self.queryResult(rows: 2)
        default:
            return Self.googleError(404, "NOT_FOUND", "Not found")
        }
    }

    private static func queryResult(rows: Int) -> Response {
        json(200, ["jobComplete": true, "totalRows": .string(String(rows)), "totalBytesProcessed": "1048576",
                   "schema": ["fields": [["name": "country", "type": "STRING"], ["name": "revenue", "type": "NUMERIC"], ["name": "tags", "type": "STRING", "mode": "REPEATED"]]],
                   "rows": .array((0..<rows).map { index in
                       ["f": [["v": .string(["France", "Japan", "Brazil"][index % 3])], ["v": .string(String(100 * (index + 1)))],
                              ["v": [["v": "a"], ["v": "b"]]]]]
                   })])
    }

    // MARK: KMS

    private func kms(_ path: String, _ body: JSONValue) -> Response {
        if path.hasSuffix(":encrypt"), let plaintext = body["plaintext"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
           let box = try? AES.GCM.seal(plaintext, using: kmsKey, authenticating: Data((body["additionalAuthenticatedData"]?.stringValue ?? "").utf8)),
           let combined = box.combined {
            return Self.json(200, ["name": .string(String(path.dropFirst(4).dropLast(8)) + "/cryptoKeyVersions/1"),
                                   "ciphertext": .string(combined.base64EncodedString())])
        }
        if path.hasSuffix(":decrypt"), let ciphertext = body["ciphertext"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
           let box = try? AES.GCM.SealedBox(combined: ciphertext),
           let plaintext = try? AES.GCM.open(box, using: kmsKey, authenticating: Data((body["additionalAuthenticatedData"]?.stringValue ?? "").utf8)) {
            return Self.json(200, ["plaintext": .string(plaintext.base64EncodedString())])
        }
        return Self.googleError(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
    }

    // MARK: Responses

    static func json(_ status: Int, _ body: JSONValue) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body.jsonString)))
    }

    static func googleError(_ status: Int, _ name: String, _ message: String) -> Response {
        json(status, ["error": ["code": .int(Int64(status)), "message": .string(message), "status": .string(name)]])
    }
}
