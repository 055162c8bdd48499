import AsyncHTTPClient
import Core
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// The few S3 calls the blob store makes, signed with SigV4 over AsyncHTTPClient (no S3 SDK exists among our
/// packages): objects put, copied, read as a stream, deleted and listed, and multipart uploads for large ones. Works
/// with AWS and with S3-compatible stores (path-style addressing for those that need it).
public struct S3Client: Sendable {
    public struct Configuration: Sendable {
        /// `https://s3.eu-west-1.amazonaws.com`, or an S3-compatible store's URL.
        public var endpoint: String
        public var bucket: String
        public var region: String
        /// `endpoint/bucket/key` (most S3-compatible stores) rather than `bucket.endpoint/key`.
        public var pathStyle: Bool

        public init(endpoint: String, bucket: String, region: String, pathStyle: Bool) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.region = region
            self.pathStyle = pathStyle
        }
    }

    public let configuration: Configuration
    let signer: S3Signer
    let http: HTTPClient

    public init(_ configuration: Configuration, accessKey: String, secretKey: String, http: HTTPClient = .shared) {
        self.configuration = configuration
        self.signer = S3Signer(accessKey: accessKey, secretKey: secretKey, region: configuration.region)
        self.http = http
    }

    /// What S3 answered instead of success: its status and error code, never the request's credentials.
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int
        public let code: String
        public var description: String { "S3 answered \(status) \(code)" }
    }

    // MARK: Requests

    /// Sends one signed request; `key` nil addresses the bucket itself.
    func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: ByteBuffer? = nil,
              timeout: TimeAmount = .seconds(300)) async throws -> HTTPClientResponse {
        guard let base = URL(string: configuration.endpoint), let scheme = base.scheme, let endpointHost = base.host else {
            throw Failure(status: 0, code: "InvalidEndpoint")
        }
        let port = base.port.map { ":\($0)" } ?? ""
        let host = (configuration.pathStyle ? endpointHost : configuration.bucket + "." + endpointHost) + port
        let path = (configuration.pathStyle ? "/" + configuration.bucket : "") + "/" + (key ?? "")
        let payload = body.map { buffer in buffer.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)).hexString } } ?? S3Signer.emptyPayload
        let signed = signer.sign(method: method.rawValue, host: host, path: path, query: query, headers: headers, payloadHash: payload, date: Date())
        let queryString = query.map { S3Signer.encode($0.0, keepingSlashes: false) + "=" + S3Signer.encode($0.1, keepingSlashes: false) }
            .joined(separator: "&")
        var request = HTTPClientRequest(url: "\(scheme)://\(host)\(S3Signer.encode(path, keepingSlashes: true))" + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = method
        for (name, value) in signed { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(body)
        } else if method == .PUT || method == .POST {
            request.headers.add(name: "Content-Length", value: "0")
        }
        return try await http.execute(request, timeout: timeout)
    }

    /// The response, or `Failure` (with S3's error code) for anything but 2xx; S3 may answer a copy 200 with an error
    /// in its body, which is checked by the caller that reads it.
    func expectSuccess(_ response: HTTPClientResponse) async throws -> HTTPClientResponse {
        guard (200..<300).contains(response.status.code) else {
            let body = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            throw Failure(status: Int(response.status.code), code: Self.element("Code", in: body) ?? "Unknown")
        }
        return response
    }

    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
    }

    // MARK: Operations

    public func createBucket() async throws {
        let response = try await send(.PUT, key: nil)
        guard (200..<300).contains(response.status.code) || response.status.code == 409 else { _ = try await expectSuccess(response); return }
    }

    public func put(_ key: String, _ body: ByteBuffer) async throws {
        _ = try await expectSuccess(try await send(.PUT, key: key, body: body))
    }

    /// Copies within the bucket (objects up to 5 GB, S3's limit for one copy).
    public func copy(from source: String, to key: String) async throws {
        let response = try await expectSuccess(try await send(.PUT, key: key, headers: [("x-amz-copy-source", "/\(configuration.bucket)/\(source)")]))
        let body = String(buffer: try await response.body.collect(upTo: 64 * 1024))
        if body.contains("<Error>") { throw Failure(status: 200, code: Self.element("Code", in: body) ?? "CopyFailed") }
    }

    /// The object's size and bytes as they arrive, or nil when there is none.
    public func get(_ key: String) async throws -> (bytes: Int64, body: HTTPClientResponse.Body)? {
        let response = try await send(.GET, key: key, timeout: .hours(6))
        if response.status == .notFound { return nil }
        let checked = try await expectSuccess(response)
        return (Int64(checked.headers.first(name: "Content-Length") ?? "") ?? 0, checked.body)
    }

    public func delete(_ key: String) async throws {
        let response = try await send(.DELETE, key: key)
        guard response.status == .notFound else { _ = try await expectSuccess(response); return }
    }

    public func createMultipartUpload(_ key: String) async throws -> String {
        let response = try await expectSuccess(try await send(.POST, key: key, query: [("uploads", "")]))
        let body = String(buffer: try await response.body.collect(upTo: 64 * 1024))
        guard let id = Self.element("UploadId", in: body) else { throw Failure(status: 200, code: "NoUploadId") }
        return id
    }

    /// Uploads one part (numbered from 1); returns its ETag.
    public func uploadPart(_ key: String, uploadID: String, number: Int, _ body: ByteBuffer) async throws -> String {
        let response = try await expectSuccess(try await send(.PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body))
        return response.headers.first(name: "ETag") ?? ""
    }

    public func completeMultipartUpload(_ key: String, uploadID: String, etags: [String]) async throws {
        let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
        let response = try await expectSuccess(try await send(.POST, key: key, query: [("uploadId", uploadID)],
                                                              body: ByteBuffer(string: "<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>")))
        let body = String(buffer: try await response.body.collect(upTo: 64 * 1024))
        if body.contains("<Error>") { throw Failure(status: 200, code: Self.element("Code", in: body) ?? "CompleteFailed") }
    }

    public func abortMultipartUpload(_ key: String, uploadID: String) async {
        _ = try? await send(.DELETE, key: key, query: [("uploadId", uploadID)])
    }

    /// Every object's key and last-modified time, page by page.
    public func list() async throws -> [(key: String, modified: Date)] {
        var objects: [(key: String, modified: Date)] = []
        var token: String?
        repeat {
            var query = [("list-type", "2")]
            if let token { query.append(("continuation-token", token)) }
            let response = try await expectSuccess(try await send(.GET, key: nil, query: query))
            let body = String(buffer: try await response.body.collect(upTo: 32 * 1024 * 1024))
            for entry in body.components(separatedBy: "<Contents>").dropFirst() {
                guard let key = Self.element("Key", in: entry) else { continue }
                let modified = Self.element("LastModified", in: entry).flatMap(Self.isoDate) ?? .distantPast
                objects.append((Self.unescape(key), modified))
            }
            token = Self.element("IsTruncated", in: body) == "true" ? Self.element("NextContinuationToken", in: body).map(Self.unescape) : nil
        } while token != nil
        return objects
    }

    static func isoDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }
}
