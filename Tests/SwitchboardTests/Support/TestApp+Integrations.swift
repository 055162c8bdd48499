import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import LLM
import NIOCore
import Storage
import Testing

extension TestApp {
    /// Runs `body` with a server whose Google endpoints are `google`'s, and whose models are `fakes` (if any).
    static func withGoogle(_ google: FakeGoogle, fakes: [FakeProvider] = [], agents: [String]? = nil,
                           customize: @escaping (inout Settings) -> Void = { _ in },
                           _ body: @Sendable (TestApp) async throws -> Void) async throws {
        let configure: (inout Settings) -> Void = { settings in
            google.configure(&settings)
            customize(&settings)
        }
        if fakes.isEmpty {
            try await run(customize: configure, body)
        } else {
            try await withFakes(fakes, agents: Settings().agents, customize: configure, body)
        }
    }

    /// Uploads `account`'s JSON key as `credentials`; the integration's id.
    func connect(_ account: TestServiceAccount, token: String, name: String = "Analytics") async throws -> String {
        let reply = try await request(.post, "/api/v1/integrations", json: ["kind": "google_service_account", "name": name,
                                                                           "credentials": account.json.anyValue as Any], token: token)
        try #require(reply.status == 201, "connect: \(reply.text)")
        return reply["id"] as? String ?? ""
    }

    /// A multipart upload of `file` (as `service-account.json`), with extra text fields.
    func upload(_ file: String, fields: [String: String] = [:], token: String, path: String = "/api/v1/integrations") async throws -> Reply {
        let boundary = "switchboard-test-\(UUID().uuidString)"
        var body = ""
        for (name, value) in fields {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"service-account.json\"\r\n"
            + "Content-Type: application/json\r\n\r\n\(file)\r\n--\(boundary)--\r\n"
        return try await request(.post, path, token: token,
                                 headers: [.contentType: "multipart/form-data; boundary=\(boundary)"], body: ByteBuffer(string: body))
    }

    /// Everything the store holds, as text: the SQLite files on disk (WAL included), or every PostgreSQL row as JSON.
    func storeDump() async throws -> String {
        let dataDirectory = settings.dataDirectory
        if TestDatabase.engine == .sqlite {
            return ["", "-wal", "-shm"].compactMap { FileManager.default.contents(atPath: dataDirectory + "/switchboard.sqlite" + $0) }
                .map { String(decoding: $0, as: UTF8.self) }.joined()
        }
        let tables = try await server.database.all("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            .map { try $0.decode(column: "table_name", as: String.self) }
        var dump = ""
        for table in tables {
            for row in try await server.database.all("SELECT row_to_json(t)::text AS r FROM \(unsafeRaw: table) t") {
                dump += try row.decode(column: "r", as: String.self) + "\n"
            }
        }
        return dump
    }
}

extension JSONValue {
    /// As JSONSerialization takes it, for request bodies in tests.
    var anyValue: Any? {
        switch self {
        case .null: nil
        case .bool(let value): value
        case .int(let value): Int(value)
        case .double(let value): value
        case .string(let value): value
        case .array(let values): values.map { $0.anyValue ?? NSNull() }
        case .object(let object): object.mapValues { $0.anyValue ?? NSNull() }
        }
    }
}
