import LLM

/// The OpenAPI side of client-encrypted storage (`client_storage: true`): records and backups in the app's contract.
enum ClientStorageContract {
    static func add(_ blueprint: Blueprint, to part: inout CollectionContract.Part) {
        guard blueprint.clientStorage else { return }
        let base = CollectionContract.camel(blueprint.name)
        let tags: JSONValue = [.string(blueprint.title)]
        let problem: JSONValue = ["$ref": "#/components/responses/Problem"]
        let json = { (schema: JSONValue) -> JSONValue in ["application/json": ["schema": schema]] }
        let ref = { (name: String) -> JSONValue in ["$ref": .string("#/components/schemas/\(base)\(name)")] }
        let checksum: JSONValue = ["type": "string", "pattern": "^[0-9a-fA-F]{64}$", "description": "The SHA-256 of the bytes, in hex."]
        let millis: JSONValue = ["type": "integer", "format": "int64", "description": "Epoch milliseconds."]
        let ok: JSONValue = json(["type": "object", "required": ["ok"], "properties": ["ok": ["type": "boolean"]]])
        let bytes: JSONValue = ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]
        part.schemas[base + "StoredRecord"] = ["type": "object", "required": ["id", "table", "checksum", "created_at", "updated_at"], "properties": [
            "id": ["type": "string", "format": "uuid"], "table": ["type": "string"], "checksum": checksum, "created_at": millis, "updated_at": millis,
        ]]
        part.schemas[base + "Backup"] = ["type": "object", "required": ["id", "version", "timestamp", "checksum", "chunk_count", "size_bytes"], "properties": [
            "id": ["type": "string", "format": "uuid"], "version": ["type": "integer"], "timestamp": millis, "checksum": checksum,
            "chunk_count": ["type": "integer"], "size_bytes": ["type": "integer", "format": "int64"],
        ]]
        let blob: JSONValue = ["type": "string", "format": "byte", "description": "The encrypted bytes, in base64."]
        let records = blueprint.prefix + "/storage/records"
        part.paths[records] = [
            "post": [
                "operationId": .string("create\(base)StoredRecord"), "tags": tags, "summary": "Store an encrypted record",
                "description": "The bytes' SHA-256 must be the checksum (else 400 checksum_mismatch, nothing stored); they count toward the plan's cloud storage (402 cloud_storage_quota_exceeded past it; 403 without the feature cloud_storage).",
                "requestBody": ["required": true, "content": json(["type": "object", "required": ["table", "blob", "checksum"], "properties": [
                    "table": ["type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"], "blob": blob, "checksum": checksum,
                ]])],
                "responses": ["201": ["description": "Stored.", "content": json(["type": "object", "required": ["id", "created_at"], "properties": [
                    "id": ["type": "string", "format": "uuid"], "created_at": millis,
                ]])], "default": problem],
            ],
            "get": [
                "operationId": .string("list\(base)StoredRecords"), "tags": tags, "summary": "The caller's records' metadata (no bytes), newest first",
                "parameters": [
                    ["name": "table", "in": "query", "required": false, "schema": ["type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"]],
                    ["name": "page", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1, "maximum": 100_000, "default": 1]],
                    ["name": "limit", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1, "maximum": 100, "default": 50]],
                ],
                "responses": ["200": ["description": "Metadata.", "content": json(["type": "array", "items": ref("StoredRecord")])], "default": problem],
            ],
        ]
        let idParameter: JSONValue = ["name": "id", "in": "path", "required": true, "schema": ["type": "string", "format": "uuid"]]
        part.paths[records + "/{id}"] = [
            "parameters": [idParameter],
            "get": ["operationId": .string("get\(base)StoredRecord"), "tags": tags, "summary": "A record's bytes, as stored",
                    "responses": ["200": ["description": "The bytes.", "content": bytes,
                                          "headers": ["X-Checksum": ["schema": checksum]]], "default": problem]],
            "put": ["operationId": .string("replace\(base)StoredRecord"), "tags": tags, "summary": "Replace a record's bytes",
                    "requestBody": ["required": true, "content": json(["type": "object", "required": ["blob", "checksum"],
                                                                       "properties": ["blob": blob, "checksum": checksum]])],
                    "responses": ["200": ["description": "Replaced.", "content": ok], "default": problem]],
            "delete": ["operationId": .string("delete\(base)StoredRecord"), "tags": tags, "summary": "Delete a record (idempotent)",
                       "responses": ["200": ["description": "Gone.", "content": ok], "default": problem]],
        ]
        let vectors = blueprint.prefix + "/storage/vectors"
        // Null is as good as absent, as the routes read it (a client that always sends the field may send null).
        let vector: JSONValue = ["type": ["array", "null"], "minItems": 1, "maxItems": 4096, "items": ["type": "number"],
                                 "description": "A vector the client computed; without one (or null), 32 numbers derived from the blob's SHA-256 (finds identical blobs only)."]
        part.paths[vectors + "/upsert"] = ["post": [
            "operationId": .string("upsert\(base)Vectors"), "tags": tags, "summary": "Store or replace encrypted blobs with the vectors that find them",
            "requestBody": ["required": true, "content": json(["type": "object", "required": ["vectors"], "properties": ["vectors": [
                "type": "array", "minItems": 1, "maxItems": 100, "items": ["type": "object", "required": ["id", "blob", "checksum"], "properties": [
                    "id": ["type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$"], "blob": blob, "checksum": checksum, "vector": vector,
                ]],
            ]]])],
            "responses": ["200": ["description": "Stored.", "content": json(["type": "object", "required": ["upserted"],
                                                                              "properties": ["upserted": ["type": "integer"]]])], "default": problem],
        ]]
        part.paths[vectors + "/search"] = ["post": [
            "operationId": .string("search\(base)Vectors"), "tags": tags, "summary": "The blobs whose vectors are closest to the query",
            // Null is as good as absent for each field, as the route reads them.
            "requestBody": ["required": true, "content": json(["type": "object", "properties": [
                "query_blob": ["type": ["string", "null"], "format": "byte", "description": "The bytes to find alike, in base64."], "top_k": ["type": ["integer", "null"], "minimum": 1, "maximum": 100, "default": 10],
                "query_vector": vector,
            ]])],
            "responses": ["200": ["description": "Closest first.", "content": json(["type": "object", "required": ["results"], "properties": ["results": [
                "type": "array", "items": ["type": "object", "required": ["id", "score", "blob"],
                                           "properties": ["id": ["type": "string"], "score": ["type": "number"], "blob": blob]],
            ]]])], "default": problem],
        ]]
        part.paths[vectors] = ["delete": [
            "operationId": .string("delete\(base)Vectors"), "tags": tags, "summary": "Delete vectors by id (idempotent)",
            "requestBody": ["required": true, "content": json(["type": "object", "required": ["ids"], "properties": [
                "ids": ["type": "array", "maxItems": 1000, "items": ["type": "string"]],
            ]])],
            "responses": ["200": ["description": "Gone.", "content": ok], "default": problem],
        ]]
        let backup = blueprint.prefix + "/backup"
        let header = { (name: String, schema: JSONValue) -> JSONValue in ["name": .string(name), "in": "header", "required": true, "schema": schema] }
        part.paths[backup] = [
            "put": [
                "operationId": .string("put\(base)Backup"), "tags": tags, "summary": "Upload a backup (streamed)",
                "description": "The raw body is the backup; its SHA-256 must be X-Backup-Checksum. Counts toward the plan's backup space (402 backup_quota_exceeded; 403 without the feature backup); 409 backup_exists for a timestamp already backed up.",
                "parameters": [header("X-Backup-Version", ["type": "integer", "minimum": 0, "maximum": 2_147_483_647]),
                               header("X-Backup-Timestamp", ["type": "integer", "format": "int64", "minimum": 0, "maximum": 253_402_300_799_999]),
                               header("X-Backup-Checksum", checksum)],
                "requestBody": ["required": true, "content": bytes],
                "responses": ["201": ["description": "Stored.", "content": json(ref("Backup"))], "default": problem],
            ],
            "get": [
                "operationId": .string("get\(base)Backup"), "tags": tags, "summary": "The latest backup's bytes",
                "parameters": [["name": "If-Modified-Since", "in": "header", "required": false, "schema": ["type": "string"]]],
                "responses": [
                    "200": ["description": "The bytes.", "content": bytes, "headers": [
                        "X-Backup-Version": ["schema": ["type": "integer"]], "X-Backup-Timestamp": ["schema": ["type": "integer"]],
                        "X-Backup-Checksum": ["schema": checksum], "Last-Modified": ["schema": ["type": "string"]],
                    ]],
                    "304": ["description": "Not modified since If-Modified-Since."],
                    "default": problem,
                ],
            ],
        ]
        part.paths[backup + "/history"] = ["get": [
            "operationId": .string("list\(base)Backups"), "tags": tags, "summary": "Every backup's metadata, newest first",
            "responses": ["200": ["description": "Backups.", "content": json(["type": "array", "items": ref("Backup")])], "default": problem],
        ]]
        part.paths[backup + "/{backup_id}"] = [
            "parameters": [["name": "backup_id", "in": "path", "required": true, "schema": ["type": "string", "format": "uuid"]]],
            "delete": ["operationId": .string("delete\(base)Backup"), "tags": tags, "summary": "Delete a backup",
                       "responses": ["200": ["description": "Gone.", "content": ok], "default": problem]],
        ]
    }
}
