import App
import Connectors
import Core
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import AsyncHTTPClient
import Synchronization
import NIOCore
import Testing

/// Client-encrypted storage (`client_storage: true`): opaque records and streamed backups, checked by SHA-256, counted
/// exactly against the tier, never reachable across users; on both engines, with the file blob store.
@Suite("Client-encrypted storage")
struct ClientStorageTests {
    static let yaml = """
        blueprint: 1
        app: {name: vaulty}
        client_storage: true
        """

    /// The two blob stores; the S3 one against the emulator scripts/test starts (SWITCHBOARD_TEST_S3_URL).
    enum Store: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case file, s3
        var testDescription: String { rawValue }
        static let emulator = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_S3_URL"]
        static let available: [Store] = emulator == nil ? [.file] : [.file, .s3]
    }

    /// Pro has 1 MB of cloud storage and 5 MB of backups; free has neither. An S3 store gets a bucket of its own.
    static func withApp(_ store: Store, _ testing: TestingSetup = .router, _ body: @Sendable (TestApp) async throws -> Void) async throws {
        var s3: Settings.S3Storage?
        if store == .s3, let endpoint = Store.emulator {
            s3 = Settings.S3Storage(endpoint: endpoint, bucket: "test-\(UUID().uuidString.lowercased().prefix(18))", accessKey: "testing", secretKey: "testing")
            try await S3Client(.init(endpoint: endpoint, bucket: s3!.bucket, region: "us-east-1", pathStyle: true), accessKey: "testing", secretKey: "testing")
                .createBucket()
        }
        try await TestApp.withBlueprint(Self.yaml, testing, customize: { settings in
            let tiers = Plans.standard.order.map { name in
                var tier = Plans.standard.tier(name)
                if name != "free" {
                    tier.features.formUnion(["cloud_storage", "backup"])
                    tier.limits = ["cloud_storage_mb": 1, "backup_mb": 5]
                }
                return tier
            }
            settings.plans = Plans(tiers: tiers, defaultTier: "pro")
            settings.s3 = s3
        }, body)
    }

    static func sha256(_ bytes: [UInt8]) -> String { Array(SHA256.hash(data: bytes)).hexString }
    static func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    static func record(_ bytes: [UInt8], table: String = "notes", checksum: String? = nil) -> [String: Any] {
        ["table": table, "blob": Data(bytes).base64EncodedString(), "checksum": checksum ?? sha256(bytes)]
    }

    /// Every object in the test's blob store, staged ones included.
    static func objects(_ app: TestApp) async throws -> [String] {
        let inventory = try await app.settings.blobStore().inventory(staleAfter: .distantFuture)
        return inventory.objects.map(\.key.description) + inventory.staleStaged.map(\.location)
    }

    @Test("Records: stored as sent, listed without bytes, read back with their checksum, replaced, deleted idempotently; nobody else reaches them", arguments: Store.available)
    func records(store: Store) async throws {
        try await Self.withApp(store) { app in
            let user = try await app.signup()
            let bytes = Self.random(5_000)
            let created = try await app.request(.post, "/api/v1/storage/records", json: Self.record(bytes), token: user.access)
            #expect(created.status == 201 && created["created_at"] is Int, "\(created.text)")
            let id = try #require(created["id"] as? String)

            let list = try await app.request(.get, "/api/v1/storage/records?table=notes&page=1&limit=10", token: user.access)
            let items = (try? JSONSerialization.jsonObject(with: Data(list.text.utf8))) as? [[String: Any]] ?? []
            #expect(items.count == 1 && items[0]["checksum"] as? String == Self.sha256(bytes) && items[0]["blob"] == nil, "\(list.text)")
            let read = try await app.request(.get, "/api/v1/storage/records/\(id)", token: user.access)
            #expect(read.status == 200 && Array(read.body.readableBytesView) == bytes)
            #expect(read.headers[HTTPField.Name("X-Checksum")!] == Self.sha256(bytes))

            let other = try await app.signup()
            #expect(try await app.request(.get, "/api/v1/storage/records/\(id)", token: other.access).status == 404)
            let newer = Self.random(100)
            #expect(try await app.request(.put, "/api/v1/storage/records/\(id)", json: ["blob": Data(newer).base64EncodedString(),
                                                                                         "checksum": Self.sha256(newer)], token: other.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/storage/records/\(id)", token: other.access).status == 200, "idempotent for anyone")
            #expect(try await app.request(.get, "/api/v1/storage/records", token: other.access).text == "[]")
            #expect(try await app.request(.get, "/api/v1/storage/records/\(id)", token: user.access).status == 200, "another user's delete did nothing")

            let replaced = try await app.request(.put, "/api/v1/storage/records/\(id)", json: ["blob": Data(newer).base64EncodedString(),
                                                                                               "checksum": Self.sha256(newer)], token: user.access)
            #expect(replaced.status == 200 && replaced.text == #"{"ok":true}"#, "\(replaced.text)")
            #expect(Array(try await app.request(.get, "/api/v1/storage/records/\(id)", token: user.access).body.readableBytesView) == newer)

            #expect(try await app.request(.delete, "/api/v1/storage/records/\(id)", token: user.access).status == 200)
            #expect(try await app.request(.delete, "/api/v1/storage/records/\(id)", token: user.access).status == 200, "deleting again is fine")
            #expect(try await app.request(.get, "/api/v1/storage/records/\(id)", token: user.access).status == 404)
            let objects = try await Self.objects(app)
            #expect(objects.isEmpty, "the bytes went with the record: \(objects)")
            #expect(try await app.server.clientStorage(user.userID).records == 0)
        }
    }

    @Test("Bad input is refused before anything is kept: a wrong checksum, crafted table names and ids, bad pages, a plan without storage", arguments: Store.available)
    func refused(store: Store) async throws {
        try await Self.withApp(store) { app in
            let user = try await app.signup()
            let bytes = Self.random(64)
            let mismatch = try await app.request(.post, "/api/v1/storage/records", json: Self.record(bytes, checksum: Self.sha256([1])), token: user.access)
            #expect(mismatch.status == 400 && mismatch.code == "checksum_mismatch", "\(mismatch.text)")
            for table in ["../etc", "Notes", "a/b", "", String(repeating: "x", count: 65), "-x"] {
                let crafted = try await app.request(.post, "/api/v1/storage/records", json: Self.record(bytes, table: table), token: user.access)
                #expect(crafted.status == 400 && crafted.fieldErrors["table"] != nil, "\(table): \(crafted.text)")
            }
            let notBase64 = try await app.request(.post, "/api/v1/storage/records", json: ["table": "t", "blob": "***", "checksum": "00"], token: user.access)
            #expect(notBase64.fieldErrors.keys.sorted() == ["blob", "checksum"], "\(notBase64.text)")
            for path in ["../../users", "%2e%2e", "not-a-uuid"] {
                #expect(try await app.request(.get, "/api/v1/storage/records/\(path)", token: user.access).status == 404, "\(path)")
            }
            #expect(try await app.request(.get, "/api/v1/storage/records?page=0", token: user.access).fieldErrors["page"] != nil)
            #expect(try await app.request(.get, "/api/v1/storage/records?limit=1000", token: user.access).fieldErrors["limit"] != nil)
            let counted = try await app.server.clientStorage(user.userID).records
            let objects = try await Self.objects(app)
            #expect(objects.isEmpty && counted == 0, "nothing kept: \(objects)")

            let free = try await app.signup()
            #expect(try await app.server.accounts.setTier(email: free.email, tier: "free"))
            let closed = try await app.request(.post, "/api/v1/storage/records", json: Self.record(bytes), token: free.access)
            #expect(closed.status == 403 && closed.code == "feature_not_in_plan", "\(closed.text)")
            let noBackup = try await app.request(.put, "/api/v1/backup", token: free.access, headers: Self.backupHeaders(bytes, timestamp: 1),
                                                 body: ByteBuffer(bytes: bytes))
            #expect(noBackup.status == 403 && noBackup.code == "feature_not_in_plan", "\(noBackup.text)")
        }
    }

    @Test("The quota holds exactly under concurrent uploads at its edge, and a replacement that would pass it keeps the old bytes", arguments: Store.available)
    func quota(store: Store) async throws {
        try await Self.withApp(store) { app in
            let user = try await app.signup()
            let uploads = (0..<8).map { _ in Self.random(300_000) }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for bytes in uploads {
                    group.addTask { try await app.request(.post, "/api/v1/storage/records", json: Self.record(bytes), token: user.access).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 3 && statuses.filter { $0 == 402 }.count == 5, "1 MB holds three of 300 KB: \(statuses)")
            #expect(try await app.server.clientStorage(user.userID).records == 900_000, "counted exactly")
            let objects = try await Self.objects(app)
            #expect(objects.count == 3, "the refused uploads left nothing: \(objects)")

            let list = try JSONSerialization.jsonObject(with: Data(try await app.request(.get, "/api/v1/storage/records", token: user.access).text.utf8))
            let id = try #require(((list as? [[String: Any]])?.first)?["id"] as? String)
            let original = try await app.request(.get, "/api/v1/storage/records/\(id)", token: user.access).body
            let bigger = Self.random(500_000)
            let grown = try await app.request(.put, "/api/v1/storage/records/\(id)", json: ["blob": Data(bigger).base64EncodedString(),
                                                                                            "checksum": Self.sha256(bigger)], token: user.access)
            #expect(grown.status == 402 && grown.code == "cloud_storage_quota_exceeded", "\(grown.text)")
            #expect(try await app.request(.get, "/api/v1/storage/records/\(id)", token: user.access).body == original, "the old bytes stay")
            #expect(try await app.request(.delete, "/api/v1/storage/records/\(id)", token: user.access).status == 200)
            #expect(try await app.server.clientStorage(user.userID).records == 600_000)
        }
    }

    static func backupHeaders(_ bytes: [UInt8], timestamp: Int64, checksum: String? = nil) -> HTTPFields {
        [HTTPField.Name("X-Backup-Version")!: "3", HTTPField.Name("X-Backup-Timestamp")!: String(timestamp),
         HTTPField.Name("X-Backup-Checksum")!: checksum ?? sha256(bytes), .contentType: "application/octet-stream"]
    }

    @Test("Backups: streamed in and out with their headers, If-Modified-Since, history, one per timestamp, checked, within the quota, deleted", arguments: Store.available)
    func backups(store: Store) async throws {
        try await Self.withApp(store) { app in
            let user = try await app.signup()
            let first = Self.random(2_000_000)
            let stored = try await app.request(.put, "/api/v1/backup", token: user.access, headers: Self.backupHeaders(first, timestamp: 1_796_000_000_000),
                                               body: ByteBuffer(bytes: first))
            #expect(stored.status == 201 && stored["size_bytes"] as? Int == 2_000_000 && stored["chunk_count"] as? Int == 1, "\(stored.text)")
            let latest = try await app.request(.get, "/api/v1/backup", token: user.access)
            #expect(latest.status == 200 && Array(latest.body.readableBytesView) == first)
            #expect(latest.headers[HTTPField.Name("X-Backup-Timestamp")!] == "1796000000000" && latest.headers[HTTPField.Name("X-Backup-Version")!] == "3")
            let modified = try #require(latest.headers[.lastModified])
            #expect(try await app.request(.get, "/api/v1/backup", token: user.access, headers: [.ifModifiedSince: modified]).status == 304)
            #expect(try await app.request(.get, "/api/v1/backup", token: user.access,
                                          headers: [.ifModifiedSince: "Sat, 01 Jan 2000 00:00:00 GMT"]).status == 200)

            let again = try await app.request(.put, "/api/v1/backup", token: user.access, headers: Self.backupHeaders(first, timestamp: 1_796_000_000_000),
                                              body: ByteBuffer(bytes: first))
            #expect(again.status == 409 && again.code == "backup_exists", "\(again.text)")
            let second = Self.random(1_000_000)
            let wrong = try await app.request(.put, "/api/v1/backup", token: user.access,
                                              headers: Self.backupHeaders(second, timestamp: 1_796_000_100_000, checksum: Self.sha256(first)), body: ByteBuffer(bytes: second))
            #expect(wrong.status == 400 && wrong.code == "checksum_mismatch", "\(wrong.text)")
            let missing = try await app.request(.put, "/api/v1/backup", token: user.access, headers: [.contentType: "application/octet-stream"],
                                                body: ByteBuffer(bytes: second))
            #expect(Set(missing.fieldErrors.keys) == ["X-Backup-Version", "X-Backup-Timestamp", "X-Backup-Checksum"], "\(missing.text)")
            let tooMuch = Self.random(3_500_000)
            let over = try await app.request(.put, "/api/v1/backup", token: user.access, headers: Self.backupHeaders(tooMuch, timestamp: 1_796_000_200_000),
                                             body: ByteBuffer(bytes: tooMuch))
            #expect(over.status == 402 && over.code == "backup_quota_exceeded", "5 MB: \(over.text)")
            _ = try await app.request(.put, "/api/v1/backup", token: user.access, headers: Self.backupHeaders(second, timestamp: 1_796_000_300_000),
                                      body: ByteBuffer(bytes: second))
            let history = try JSONSerialization.jsonObject(with: Data(try await app.request(.get, "/api/v1/backup/history", token: user.access).text.utf8))
                as? [[String: Any]] ?? []
            #expect(history.compactMap { $0["timestamp"] as? Int } == [1_796_000_300_000, 1_796_000_000_000], "newest first: \(history)")
            #expect(try await app.server.clientStorage(user.userID).backups == 3_000_000)
            let objects = try await Self.objects(app)
            #expect(objects.count == 2, "refused uploads left nothing: \(objects)")

            let other = try await app.signup()
            let id = try #require(history.last?["id"] as? String)
            #expect(try await app.request(.delete, "/api/v1/backup/\(id)", token: other.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/backup", token: other.access).code == "backup_not_found")
            #expect(try await app.request(.delete, "/api/v1/backup/\(id)", token: user.access).status == 200)
            #expect(try await app.server.clientStorage(user.userID).backups == 1_000_000)
        }
    }

    @Test("Vectors: the SHA-256 fallback finds identical blobs only, client vectors are searched by closeness, each user's apart, checked, deleted", arguments: Store.available)
    func vectors(store: Store) async throws {
        try await Self.withApp(store) { app in
            let user = try await app.signup()
            let blobs = (0..<3).map { _ in Self.random(200) }
            func item(_ id: String, _ bytes: [UInt8], vector: [Double]? = nil, checksum: String? = nil) -> [String: Any] {
                var item: [String: Any] = ["id": id, "blob": Data(bytes).base64EncodedString(), "checksum": checksum ?? Self.sha256(bytes)]
                if let vector { item["vector"] = vector }
                return item
            }
            let fallback = try await app.request(.post, "/api/v1/storage/vectors/upsert",
                                                 json: ["vectors": blobs.enumerated().map { item("doc-\($0)", $1) }], token: user.access)
            #expect(fallback.status == 200 && fallback["upserted"] as? Int == 3, "\(fallback.text)")
            let found = try await app.request(.post, "/api/v1/storage/vectors/search",
                                              json: ["query_blob": Data(blobs[1]).base64EncodedString(), "top_k": 3], token: user.access)
            let results = found["results"] as? [[String: Any]] ?? []
            #expect(results.first?["id"] as? String == "doc-1" && (results.first?["score"] as? Double ?? 0) > 0.999, "\(found.text)")
            #expect(results.first?["blob"] as? String == Data(blobs[1]).base64EncodedString())
            #expect(results.dropFirst().allSatisfy { ($0["score"] as? Double ?? 1) < 0.9 }, "other blobs are not alike: \(results)")
            // A null query_vector is no vector, as the contract says (a client that always sends the field).
            let nulled = try await app.request(.post, "/api/v1/storage/vectors/search",
                                               json: ["query_blob": Data(blobs[1]).base64EncodedString(), "query_vector": NSNull()], token: user.access)
            #expect((nulled["results"] as? [[String: Any]])?.first?["id"] as? String == "doc-1", "\(nulled.text)")

            let close = try await app.request(.post, "/api/v1/storage/vectors/upsert", json: ["vectors": [
                item("a", blobs[0], vector: [1, 0, 0]), item("b", blobs[1], vector: [0.9, 0.1, 0]), item("c", blobs[2], vector: [0, 1, 0]),
            ]], token: user.access)
            #expect(close["upserted"] as? Int == 3)
            let nearest = try await app.request(.post, "/api/v1/storage/vectors/search", json: ["query_vector": [2, 0, 0], "top_k": 2], token: user.access)
            #expect((nearest["results"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["a", "b"], "\(nearest.text)")

            let other = try await app.signup()
            let theirs = try await app.request(.post, "/api/v1/storage/vectors/search", json: ["query_vector": [1, 0, 0]], token: other.access)
            #expect((theirs["results"] as? [Any])?.isEmpty == true, "\(theirs.text)")
            #expect(try await app.request(.delete, "/api/v1/storage/vectors", json: ["ids": ["a", "b"]], token: other.access).status == 200)

            let bad = try await app.request(.post, "/api/v1/storage/vectors/upsert", json: ["vectors": [
                item("d", blobs[0]), item("e", blobs[1], checksum: Self.sha256([0])),
            ]], token: user.access)
            #expect(bad.status == 400 && bad.code == "checksum_mismatch", "one wrong checksum keeps the whole batch out: \(bad.text)")
            let zero = try await app.request(.post, "/api/v1/storage/vectors/upsert", json: ["vectors": [item("z", blobs[0], vector: [0, 0])]], token: user.access)
            #expect(zero.fieldErrors["vectors.0.vector"] != nil, "\(zero.text)")
            let usage = try await app.server.clientStorage(user.userID).records
            #expect(usage == 1_200, "six vectors of 200 bytes: \(usage)")

            #expect(try await app.request(.delete, "/api/v1/storage/vectors", json: ["ids": ["a", "b", "c", "doc-0", "doc-1", "doc-2", "none"]],
                                          token: user.access).status == 200)
            #expect(try await app.server.clientStorage(user.userID).records == 0)
            let objects = try await Self.objects(app)
            #expect(objects.isEmpty, "\(objects)")
        }
    }

    @Test("An upload cut short leaves no bytes and counts nothing", arguments: Store.available)
    func killedUpload(store: Store) async throws {
        try await Self.withApp(store, .live) { app in
            let user = try await app.signup()
            let head = "PUT /api/v1/backup HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(user.access)\r\nX-Backup-Version: 1\r\n"
                + "X-Backup-Timestamp: 42\r\nX-Backup-Checksum: \(String(repeating: "a", count: 64))\r\nContent-Type: application/octet-stream\r\n"
                + "Content-Length: 2000000\r\n\r\n" + String(repeating: "x", count: 300_000)
            _ = await RawSocket.exchange(port: app.client.port!, head, timeout: 1)
            var files = try await Self.objects(app)
            for _ in 0..<100 where !files.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
                files = try await Self.objects(app)
            }
            #expect(files.isEmpty, "the staged part is gone: \(files)")
            #expect(try await app.request(.get, "/api/v1/backup/history", token: user.access).text == "[]")
            #expect(try await app.server.clientStorage(user.userID).backups == 0)
        }
    }

    @Test("The garbage collector removes what crashes leave (orphaned objects, staged uploads, backups without bytes) and nothing else",
          arguments: Store.available)
    func garbage(store: Store) async throws {
        try await Self.withApp(store) { app in
            let user = try await app.signup()
            let kept = Self.random(1_000)
            _ = try await app.request(.post, "/api/v1/storage/records", json: Self.record(kept), token: user.access)
            let lost = Self.random(1_000)
            _ = try await app.request(.put, "/api/v1/backup", token: user.access, headers: Self.backupHeaders(lost, timestamp: 7), body: ByteBuffer(bytes: lost))
            // What a crash leaves: bytes no row names, a staged upload, and a backup row whose bytes never landed.
            let orphan = "\(user.userID)/notes/\(UUID().uuidString.lowercased())"
            let staged = ".staging/\(UUID().uuidString.lowercased())"
            if let s3 = app.settings.s3 {
                let client = S3Client(.init(endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, pathStyle: true), accessKey: "testing", secretKey: "testing")
                try await client.put(orphan, ByteBuffer(bytes: [1, 2, 3]))
                try await client.put(staged, ByteBuffer(bytes: [4]))
                try await client.delete("\(user.userID)/backups/7")
            } else {
                let root = app.settings.blobDirectory
                try FileManager.default.createDirectory(atPath: "\(root)/\(user.userID)/notes", withIntermediateDirectories: true)
                try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(root)/\(orphan)"))
                try Data([4]).write(to: URL(fileURLWithPath: "\(root)/\(staged)"))
                try FileManager.default.removeItem(atPath: "\(root)/\(user.userID)/backups/7")
            }
            #expect(try await Self.objects(app).count == 3)

            let storage = ClientStorage(db: app.server.database, blobs: app.settings.blobStore(), plans: app.settings.plans, settings: .init(),
                                        clock: app.clock.wallClock)
            let early = try await storage.collectGarbage(grace: 3_600)
            #expect(early.objects == 0 && early.staged == 0 && early.backups == 0, "nothing younger than the grace period is touched")
            app.clock.advance(seconds: 7_200)
            let collected = try await storage.collectGarbage(grace: 3_600)
            #expect(collected.objects == 1 && collected.staged == 1 && collected.backups == 1, "\(collected)")
            let objects = try await Self.objects(app)
            #expect(objects.count == 1, "the record's bytes stay: \(objects)")
            let usage = try await app.server.clientStorage(user.userID)
            #expect(usage.records == 1_000 && usage.backups == 0, "the lost backup's count is given back: \(usage)")
            let token = try await app.login(user.email)["access_token"] as? String
            #expect(try await app.request(.get, "/api/v1/backup/history", token: token).text == "[]", "two hours on, a new token")
        }
    }
}

/// A large backup through a server process of its own, whose memory is watched while the bytes stream through it. The
/// engine plays no part in streaming: it runs in the SQLite pass only, where it does not add two cores' worth of load
/// to the PostgreSQL pass's timing-sensitive tests.
@Suite("Client-encrypted storage: large backups", .enabled(if: ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"] == nil))
struct LargeBackupTests {
    /// 1 MiB blocks of pseudo-random bytes, the same for the same seed: generated twice (for the checksum, then sent)
    /// rather than held.
    static func blocks(_ count: Int, seed: UInt64) -> AsyncStream<ByteBuffer> {
        var generator = SplitMix(seed: seed)
        var base = ByteBuffer()
        for _ in 0..<(1 << 17) { base.writeInteger(generator.next()) }
        // One random mebibyte, each copy stamped with its index: cheap to make, no two blocks alike, made as they are read.
        let next = Mutex(0)
        return AsyncStream(unfolding: {
            let index = next.withLock { value -> Int in
                value += 1
                return value - 1
            }
            guard index < count else { return nil }
            var block = base
            block.setInteger(UInt64(index), at: 0)
            return block
        })
    }

    /// The process's anonymous resident memory (heap, buffers): what buffering a body would grow. Its whole RSS
    /// also counts the debug binary's code pages as they are first run, which is not memory a stream holds.
    static func rssMiB(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    @Test("A backup far larger than any buffer streams in and out with flat memory (200 MB on files; 24 MB, in multipart, on S3)",
          arguments: ClientStorageTests.Store.available)
    func streams(store: ClientStorageTests.Store) async throws {
        let megabytes = store == .file ? 200 : 24
        let yaml = """
            blueprint: 1
            app: {name: vaulty}
            client_storage: true
            tiers:
              pro: {features: [cloud_storage, backup], default: true}
            """
        let blueprint = try TestBlueprint.directory(yaml, files: [:])
        var (directory, environment) = try await CLI.freshEnvironment()
        environment["BLUEPRINT_DIR"] = blueprint
        if store == .s3, let endpoint = ClientStorageTests.Store.emulator {
            let bucket = "large-\(UUID().uuidString.lowercased().prefix(18))"
            try await S3Client(.init(endpoint: endpoint, bucket: bucket, region: "us-east-1", pathStyle: true), accessKey: "testing", secretKey: "testing")
                .createBucket()
            environment.merge(["STORAGE_BLOBS": "s3", "STORAGE_S3_ENDPOINT": endpoint, "STORAGE_S3_BUCKET": bucket,
                               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"]) { $1 }
        }
        let server = try await ServerProcess.start(directory: directory, environment: environment)
        defer { server.stop() }
        let signup = try await server.post("/api/v1/auth/signup", json: ["email": "big@example.com", "password": "correct horse battery"])
        let token = try #require(signup.json["access_token"] as? String)

        var hasher = SHA256()
        for await block in Self.blocks(megabytes, seed: 7) { block.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
        let checksum = Array(hasher.finalize()).hexString
        let pid = server.process.processIdentifier
        let before = Self.rssMiB(pid)
        let peak = Mutex(before)
        let watcher = Task {
            while !Task.isCancelled {
                let now = Self.rssMiB(pid)
                peak.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        var upload = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/api/v1/backup")
        upload.method = .PUT
        upload.headers.add(name: "Authorization", value: "Bearer \(token)")
        upload.headers.add(name: "X-Backup-Version", value: "1")
        upload.headers.add(name: "X-Backup-Timestamp", value: "1")
        upload.headers.add(name: "X-Backup-Checksum", value: checksum)
        upload.body = .stream(Self.blocks(megabytes, seed: 7), length: .known(Int64(megabytes) << 20))
        let stored = try await HTTPClient.shared.execute(upload, timeout: .seconds(600))
        let answer = String(buffer: try await stored.body.collect(upTo: 1 << 16))
        #expect(stored.status.code == 201 && answer.contains("\"size_bytes\":\(megabytes << 20)"), "\(answer)")

        var download = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/api/v1/backup")
        download.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(download, timeout: .seconds(600))
        var received = SHA256()
        var count = 0
        for try await chunk in response.body {
            count += chunk.readableBytes
            chunk.withUnsafeReadableBytes { received.update(bufferPointer: $0) }
        }
        watcher.cancel()
        #expect(count == megabytes << 20 && Array(received.finalize()).hexString == checksum, "the bytes come back as sent")
        let growth = peak.withLock { $0 } - before
        // Buffering the body would grow it by the body's size. What does grow is the allocator's per-thread arenas
        // keeping freed chunks: 15 to 20 MiB here, and the whole RSS (code pages included) was seen at 39 MiB on a
        // machine loaded by the whole suite.
        #expect(growth < 48, "anonymous memory grew \(growth) MiB while \(megabytes) MB went through (from \(before) MiB)")
    }
}

extension Switchboard {
    /// What the user stores in each client-storage quota, as the database counts it.
    func clientStorage(_ userID: String) async throws -> (records: Int64, backups: Int64) {
        let storage = ClientStorage(db: database, blobs: FileBlobStore(root: "/nonexistent"), plans: .standard, settings: .init(), clock: .system)
        return try await storage.usage(user: UUID(uuidString: userID) ?? UUID())
    }
}
