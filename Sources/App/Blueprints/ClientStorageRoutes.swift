import Blueprints
import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore

/// A blueprint's client-encrypted storage (`client_storage: true`), below the app's prefix: records
/// (`/storage/records`) and backups (`/backup`), in the field names and epoch-millisecond times of Adiuva's client.
/// API keys need `data:read` or `data:write`; the tier needs `cloud_storage` (records) or `backup` (backups).
struct ClientStorageRoutes: Sendable {
    let prefix: String
    let storage: ClientStorage
    let plans: Plans

    static let recordsPath = "/storage/records"
    static let vectorsPath = "/storage/vectors"
    static let backupPath = "/backup"

    /// The request bodies these routes read, and how big each may be: a record is JSON with its bytes in base64 (a
    /// third more, and the fields around it); a backup streams (nil: the route reads and bounds it itself).
    static func bodyLimits(prefix: String, storage: ClientStorage) -> [String: Int?] {
        let record = Int(min(storage.maxRecordBytes, Int64(Int32.max)) / 3 * 4 + 64 * 1024)
        // A batch of vectors: up to 100 blobs, within four records' worth of JSON.
        return ["POST " + prefix + recordsPath: record, "PUT " + prefix + recordsPath + "/": record, "PUT " + prefix + backupPath: nil,
                "POST " + prefix + vectorsPath + "/upsert": record * 4, "POST " + prefix + vectorsPath + "/search": record]
    }

    func register(on router: Router<AppRequestContext>) {
        let records = prefix + Self.recordsPath
        router.post(RouterPath(records)) { request, _ in try await create(request) }
        router.get(RouterPath(records)) { request, _ in try await list(request) }
        router.get(RouterPath(records + "/{id}")) { _, context in try await read(context.parameters.get("id")) }
        router.put(RouterPath(records + "/{id}")) { request, context in try await replace(request, id: context.parameters.get("id")) }
        router.delete(RouterPath(records + "/{id}")) { _, context in try await delete(context.parameters.get("id")) }
        let vectors = prefix + Self.vectorsPath
        router.post(RouterPath(vectors + "/upsert")) { request, _ in try await upsertVectors(request) }
        router.post(RouterPath(vectors + "/search")) { request, _ in try await searchVectors(request) }
        router.delete(RouterPath(vectors)) { request, _ in try await deleteVectors(request) }
        let backup = prefix + Self.backupPath
        router.put(RouterPath(backup)) { request, _ in try await putBackup(request) }
        router.get(RouterPath(backup)) { request, _ in try await latestBackup(request) }
        router.get(RouterPath(backup + "/history")) { _, _ in try await history() }
        router.delete(RouterPath(backup + "/{backup_id}")) { _, context in try await deleteBackup(context.parameters.get("backup_id")) }
    }

    private func identity(write: Bool) throws -> Identity {
        let identity = try RequestScope.requireIdentity()
        try plans.authorize(identity, scope: write ? "data:write" : "data:read", feature: nil)
        return identity
    }

    static let ok: JSONValue = ["ok": true]

    // MARK: Records

    private func create(_ request: Request) async throws -> Response {
        let user = try identity(write: true).user
        let body = try await JSONBody.read(request, maxBytes: Int.max)
        var errors: [FieldError] = []
        let table = body["table"]?.stringValue ?? ""
        if !ClientStorage.isTableName(table) {
            errors.append(FieldError(field: "table", code: body["table"] == nil ? "required" : "invalid_format",
                                     message: "must be 1 to 64 lowercase letters, digits and _, starting with a letter"))
        }
        let (bytes, checksum) = blob(body, errors: &errors)
        guard errors.isEmpty, let bytes, let checksum else { throw AppError.validation(errors) }
        let record = try await storage.createRecord(user: user, table: table, bytes: bytes, checksum: checksum)
        return JSONBody.response(.created, ["id": .string(record.id.lowercased), "created_at": .int(record.createdAt.millis)])
    }

    /// `blob` (base64, within the record limit) and `checksum` (64 hex digits) of a body, or their field errors.
    private func blob(_ body: JSONValue, errors: inout [FieldError]) -> (ByteBuffer?, String?) {
        var bytes: ByteBuffer?
        if let text = body["blob"]?.stringValue, let data = Data(base64Encoded: text) {
            if Int64(data.count) > storage.maxRecordBytes {
                errors.append(FieldError(field: "blob", code: "too_long", message: "must be at most \(storage.maxRecordBytes) bytes"))
            } else {
                bytes = ByteBuffer(data: data)
            }
        } else {
            errors.append(FieldError(field: "blob", code: body["blob"] == nil ? "required" : "invalid_format", message: "must be the bytes in base64"))
        }
        let checksum = body["checksum"]?.stringValue.flatMap { $0.count == 64 && $0.allSatisfy(\.isHexDigit) ? $0 : nil }
        if checksum == nil {
            errors.append(FieldError(field: "checksum", code: body["checksum"] == nil ? "required" : "invalid_format",
                                     message: "must be the SHA-256 of the bytes, 64 hex digits"))
        }
        return (bytes, checksum)
    }

    private func list(_ request: Request) async throws -> Response {
        let user = try identity(write: false).user
        // Read as the contract's routes read their queries.
        let query = try QueryString.byName(request.uri.query)
        var errors: [FieldError] = []
        func number(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
            guard let given = query[name]?.first else { return fallback }
            guard let value = Int(given), range.contains(value) else {
                errors.append(FieldError(field: name, code: "out_of_range", message: "must be an integer from \(range.lowerBound) to \(range.upperBound)"))
                return fallback
            }
            return value
        }
        let page = number("page", 1, 1...100_000)
        let limit = number("limit", 50, 1...100)
        let table = query["table"]?.first
        if let table, !ClientStorage.isTableName(table) {
            errors.append(FieldError(field: "table", code: "invalid_format", message: "must be 1 to 64 lowercase letters, digits and _"))
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }
        let records = try await storage.records(user: user, table: table, page: page, limit: limit)
        return JSONBody.response(.ok, .array(records.map { record in
            ["id": .string(record.id.lowercased), "table": .string(record.table), "checksum": .string(record.checksum),
             "created_at": .int(record.createdAt.millis), "updated_at": .int(record.updatedAt.millis)]
        }))
    }

    private func read(_ id: String?) async throws -> Response {
        let user = try identity(write: false).user
        guard let id = id.flatMap(UUID.parse), let (record, read) = try await storage.readRecord(user: user, id: id) else {
            throw AppError.notFound("record")
        }
        return Self.stream(read, headers: [HTTPField.Name("X-Checksum")!: record.checksum])
    }

    private func replace(_ request: Request, id: String?) async throws -> Response {
        let user = try identity(write: true).user
        let body = try await JSONBody.read(request, maxBytes: Int.max)
        guard let id = id.flatMap(UUID.parse) else { throw AppError.notFound("record") }
        var errors: [FieldError] = []
        let (bytes, checksum) = blob(body, errors: &errors)
        guard errors.isEmpty, let bytes, let checksum else { throw AppError.validation(errors) }
        try await storage.replaceRecord(user: user, id: id, bytes: bytes, checksum: checksum)
        return JSONBody.response(.ok, Self.ok)
    }

    private func delete(_ id: String?) async throws -> Response {
        let user = try identity(write: true).user
        // Idempotent for any record id (one that is not there, or not the user's, is already gone); what is not an
        // id at all cannot name a record.
        guard let id = id.flatMap(UUID.parse) else { throw AppError.notFound("record") }
        try await storage.deleteRecord(user: user, id: id)
        return JSONBody.response(.ok, Self.ok)
    }

    static func stream(_ read: BlobRead, headers extra: HTTPFields) -> Response {
        var headers: HTTPFields = [.contentType: "application/octet-stream", .contentLength: String(read.bytes)]
        headers.append(contentsOf: extra)
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: Int(read.bytes)) { writer in
            try await read.forEach { chunk in try await writer.write(chunk) }
            try await writer.finish(nil)
        })
    }

    // MARK: Vectors

    /// A client vector: 1 to 4,096 finite numbers.
    private static func vector(_ value: JSONValue?, field: String, errors: inout [FieldError]) -> [Float]? {
        guard let value, value != .null else { return nil }
        guard let items = value.arrayValue, (1...ClientStorage.maxDimensions).contains(items.count),
              let numbers = Optional(items.compactMap { $0.doubleValue ?? $0.intValue.map(Double.init) }), numbers.count == items.count,
              numbers.allSatisfy({ $0.isFinite && abs($0) <= Double(Float.greatestFiniteMagnitude) }), numbers.contains(where: { $0 != 0 }) else {
            errors.append(FieldError(field: field, code: "invalid_format", message: "must be 1 to \(ClientStorage.maxDimensions) finite numbers, not all zero"))
            return nil
        }
        return numbers.map(Float.init)
    }

    private func upsertVectors(_ request: Request) async throws -> Response {
        let user = try identity(write: true).user
        let body = try await JSONBody.read(request, maxBytes: Int.max)
        guard let items = body["vectors"]?.arrayValue, (1...ClientStorage.maxVectorBatch).contains(items.count) else {
            throw AppError.validation([FieldError(field: "vectors", code: "invalid_format", message: "must be a list of 1 to \(ClientStorage.maxVectorBatch) vectors")])
        }
        var errors: [FieldError] = []
        var uploads: [ClientStorage.VectorUpload] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            var itemErrors: [FieldError] = []
            let id = item["id"]?.stringValue ?? ""
            if !ClientStorage.isVectorID(id) || !seen.insert(id).inserted {
                itemErrors.append(FieldError(field: "id", code: "invalid_format", message: "must be 1 to 100 of a-z A-Z 0-9 _ -, once per batch"))
            }
            let (bytes, checksum) = blob(item, errors: &itemErrors)
            let vector = Self.vector(item["vector"], field: "vector", errors: &itemErrors)
            errors += itemErrors.map { FieldError(field: "vectors.\(index).\($0.field)", code: $0.code, message: $0.message) }
            if itemErrors.isEmpty, let bytes, let checksum { uploads.append(.init(id: id, bytes: bytes, checksum: checksum, vector: vector)) }
        }
        guard errors.isEmpty else { throw AppError.validation(errors) }
        return JSONBody.response(.ok, ["upserted": .int(Int64(try await storage.upsertVectors(user: user, uploads)))])
    }

    private func searchVectors(_ request: Request) async throws -> Response {
        let user = try identity(write: false).user
        let body = try await JSONBody.read(request, maxBytes: Int.max)
        var errors: [FieldError] = []
        var query = Self.vector(body["query_vector"], field: "query_vector", errors: &errors)
        // query_blob, when sent, is checked whether or not a vector is: null is as good as absent.
        var blobQuery: [Float]?
        if let given = body["query_blob"], given != .null {
            if let text = given.stringValue, let data = Data(base64Encoded: text) {
                blobQuery = ClientStorage.fallbackVector(ByteBuffer(data: data))
            } else {
                errors.append(FieldError(field: "query_blob", code: "invalid_format", message: "must be the bytes in base64"))
            }
        }
        if query == nil, errors.isEmpty {
            query = blobQuery
            if query == nil { errors.append(FieldError(field: "query_blob", code: "required", message: "must be the bytes in base64 (or send query_vector)")) }
        }
        var limit = 10
        if let given = body["top_k"], given != .null {
            if let number = given.intValue, (1...100).contains(number) { limit = Int(number) }
            else { errors.append(FieldError(field: "top_k", code: "out_of_range", message: "must be an integer from 1 to 100")) }
        }
        guard errors.isEmpty, let query else { throw AppError.validation(errors) }
        let results = try await storage.searchVectors(user: user, query: query, limit: limit)
        return JSONBody.response(.ok, ["results": .array(results.map { result in
            ["id": .string(result.id), "score": .double(Double(result.score)), "blob": .string(Data(result.bytes.readableBytesView).base64EncodedString())]
        })])
    }

    private func deleteVectors(_ request: Request) async throws -> Response {
        let user = try identity(write: true).user
        let body = try await JSONBody.read(request, maxBytes: Int.max)
        guard let ids = body["ids"]?.arrayValue?.compactMap(\.stringValue), ids.count == body["ids"]?.arrayValue?.count, ids.count <= 1_000 else {
            throw AppError.validation([FieldError(field: "ids", code: "invalid_format", message: "must be a list of at most 1,000 ids")])
        }
        try await storage.deleteVectors(user: user, ids: ids.filter(ClientStorage.isVectorID))
        return JSONBody.response(.ok, Self.ok)
    }

    // MARK: Backups

    static let versionHeader = HTTPField.Name("X-Backup-Version")!
    static let timestampHeader = HTTPField.Name("X-Backup-Timestamp")!
    static let checksumHeader = HTTPField.Name("X-Backup-Checksum")!

    private func putBackup(_ request: Request) async throws -> Response {
        let user = try identity(write: true).user
        var errors: [FieldError] = []
        func header(_ name: HTTPField.Name, _ range: ClosedRange<Int64>) -> Int64? {
            guard let text = request.headers[name], let value = Int64(text), range.contains(value) else {
                errors.append(FieldError(field: name.rawName, code: request.headers[name] == nil ? "required" : "out_of_range",
                                         message: "must be an integer from \(range.lowerBound) to \(range.upperBound)"))
                return nil
            }
            return value
        }
        let version = header(Self.versionHeader, 0...Int64(Int32.max))
        let timestamp = header(Self.timestampHeader, 0...253_402_300_799_999)
        let checksum = request.headers[Self.checksumHeader].flatMap { $0.count == 64 && $0.allSatisfy(\.isHexDigit) ? $0 : nil }
        if checksum == nil {
            errors.append(FieldError(field: Self.checksumHeader.rawName, code: request.headers[Self.checksumHeader] == nil ? "required" : "invalid_format",
                                     message: "must be the SHA-256 of the body, 64 hex digits"))
        }
        if let length = request.headers.value(.contentLength).flatMap(Int64.init), length > storage.maxBackupBytes {
            throw HTTPError(.contentTooLarge)
        }
        guard errors.isEmpty, let version, let timestamp, let checksum else { throw AppError.validation(errors) }
        let backup: StoredBackup
        do {
            backup = try await storage.putBackup(user: user, version: version, timestamp: timestamp, checksum: checksum, body: request.body)
        } catch BlobError.tooLarge {
            throw HTTPError(.contentTooLarge)
        }
        return JSONBody.response(.created, Self.json(backup))
    }

    private func latestBackup(_ request: Request) async throws -> Response {
        let user = try identity(write: false).user
        guard let latest = try await storage.latestBackupInfo(user: user) else {
            throw AppError(status: 404, code: "backup_not_found", title: "Not found", detail: "There is no backup yet.")
        }
        let modified = Date(timeIntervalSince1970: latest.createdAt.timeIntervalSince1970.rounded(.down))
        if let since = request.headers.value(.ifModifiedSince).flatMap(HTTPDate.parse), modified <= since {
            return Response(status: .notModified, headers: [.lastModified: HTTPDate.format(modified)])
        }
        guard let (backup, read) = try await storage.latestBackup(user: user) else {
            throw AppError(status: 404, code: "backup_not_found", title: "Not found", detail: "There is no backup yet.")
        }
        return Self.stream(read, headers: [.lastModified: HTTPDate.format(modified), Self.versionHeader: String(backup.version),
                                           Self.timestampHeader: String(backup.timestamp), Self.checksumHeader: backup.checksum])
    }

    private func history() async throws -> Response {
        let user = try identity(write: false).user
        return JSONBody.response(.ok, .array(try await storage.backups(user: user).map(Self.json)))
    }

    private func deleteBackup(_ id: String?) async throws -> Response {
        let user = try identity(write: true).user
        guard let id = id.flatMap(UUID.parse) else { throw AppError.notFound("backup") }
        try await storage.deleteBackup(user: user, id: id)
        return JSONBody.response(.ok, Self.ok)
    }

    static func json(_ backup: StoredBackup) -> JSONValue {
        ["id": .string(backup.id.lowercased), "version": .int(backup.version), "timestamp": .int(backup.timestamp), "checksum": .string(backup.checksum),
         "chunk_count": .int(backup.chunkCount), "size_bytes": .int(backup.sizeBytes)]
    }
}
