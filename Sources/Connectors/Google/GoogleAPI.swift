import AsyncHTTPClient
import Foundation
import LLM
import NIOCore
import NIOHTTP1
import Synchronization

/// Calls Google APIs for a service account: tokens cached per integration and scope until shortly before they
/// expire, JSON in and out, Google's error messages passed on (they say what to fix: "Field foo is not a valid
/// metric"), never a credential.
public final class GoogleAPI: Sendable {
    public static let analyticsScope = "https://www.googleapis.com/auth/analytics.readonly"
    public static let bigQueryScope = "https://www.googleapis.com/auth/bigquery"
    let settings: ConnectorSettings
    let client: HTTPClient
    private let tokens = Mutex<[String: GoogleAccessTokenSource]>([:])

    public init(settings: ConnectorSettings, client: HTTPClient = .shared) {
        self.settings = settings
        self.client = client
    }

    /// A failed call: Google's status and message.
    public struct Failure: Error, Sendable {
        public let status: Int
        public let message: String
    }

    /// The access token for this integration and scope (cached; exchanged with the configured token endpoint).
    func token(integrationID: UUID, account: GoogleServiceAccount, scope: String) async throws -> String {
        let key = "\(integrationID.uuidString)|\(account.privateKeyID ?? "")|\(scope)"
        let source = tokens.withLock { cache -> GoogleAccessTokenSource in
            if let source = cache[key] { return source }
            if cache.count > 10_000 { cache.removeAll() }
            let source = GoogleAccessTokenSource(account: account, scope: scope, tokenURL: settings.googleTokenURL, client: client)
            cache[key] = source
            return source
        }
        do {
            return try await source.token()
        } catch let error as ProviderError {
            throw Failure(status: error.status ?? (error.kind == .connection ? 503 : 401), message: error.message)
        }
    }

    /// `method url` with the bearer token and a JSON body; the JSON answer, or `Failure` with Google's message.
    func call(_ method: HTTPMethod, _ url: String, token: String, body: JSONValue? = nil, timeout: Duration = .seconds(60)) async throws -> JSONValue {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonString))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
        } catch {
            throw Failure(status: 503, message: "Google could not be reached (\(type(of: error))).")
        }
        let text = String(buffer: try await response.body.collect(upTo: 32 << 20))
        let json = JSONValue.parse(text)
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = json?["error"]?["message"]?.stringValue ?? json?["error_description"]?.stringValue ?? "HTTP \(response.status.code)"
            throw Failure(status: Int(response.status.code), message: String(message.prefix(1000)))
        }
        return json ?? .object([:])
    }
}

extension String {
    /// A path segment: ids that come from the model are escaped, so they cannot reach another path.
    var pathSegment: String {
        addingPercentEncoding(withAllowedCharacters: .init(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")) ?? self
    }
}
