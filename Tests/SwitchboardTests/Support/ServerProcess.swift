import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `switchboard serve` as its own process, for what only several processes show (a limit shared through PostgreSQL).
final class ServerProcess: @unchecked Sendable {
    let process: Process
    let port: Int

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    static func start(directory: String, environment: [String: String]) async throws -> ServerProcess {
        let (process, out) = try launch(["serve", "--http-port", "0"], directory: directory, environment: environment)
        var buffer = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = await offThePool { out.fileHandleForReading.availableData }
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
            if let port = try listeningPort(in: buffer) {
                // Keep draining the log so the server never blocks on a full pipe.
                Thread.detachNewThread { while !out.fileHandleForReading.availableData.isEmpty {} }
                return ServerProcess(process: process, port: port)
            }
        }
        process.terminate()
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "the server did not start: \(buffer)"])
    }

    /// Starts `switchboard args...` in `directory` with `environment` added; its log (stdout and stderr) comes through
    /// the returned pipe.
    static func launch(_ args: [String], directory: String, environment: [String: String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        // None of the test run's own output: a server left running by a test process that crashed kept `swift test`
        // waiting for the end of that output forever (a CI run hung so), instead of reporting the crash.
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out)
    }

    /// The port in the "listening" log line, once `log` holds it (the kernel chooses it for `--http-port 0`).
    static func listeningPort(in log: String) throws -> Int? {
        for line in log.split(separator: "\n") where line.contains("\"msg\":\"listening\"") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let port = (object?["address"] as? String)?.split(separator: ":").last.flatMap({ Int($0) }) { return port }
        }
        return nil
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }

    struct Answer {
        let status: Int
        let json: [String: Any]
    }

    func get(_ path: String, token: String) async throws -> Answer {
        try await request(.GET, path, token: token)
    }

    func post(_ path: String, json: [String: Any], token: String? = nil) async throws -> Answer {
        try await request(.POST, path, json: json, token: token)
    }

    func request(_ method: HTTPMethod, _ path: String, json: [String: Any]? = nil, token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> Answer {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), json: (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:])
    }
}
