import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import NIOCore

/// A Google service-account key (the JSON file Google Cloud hands out), validated.
public struct GoogleServiceAccount: Sendable {
    public let projectID: String
    public let clientEmail: String
    public let privateKeyID: String?
    public let tokenURI: String
    let privateKey: _RSA.Signing.PrivateKey

    /// What is wrong with a key file, field by field (`type`, `project_id`, `client_email`, `private_key`).
    public struct Invalid: Error, Sendable {
        public let problems: [(field: String, message: String)]
    }

    public init(json: JSONValue) throws {
        var problems: [(String, String)] = []
        if json["type"]?.stringValue != "service_account" { problems.append(("type", "must be \"service_account\"")) }
        // Shown and stored as metadata: plain, short values only.
        let plain = { (text: String, limit: Int) in
            text.count <= limit && !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0.properties.isWhitespace }
        }
        let projectID = json["project_id"]?.stringValue ?? ""
        if projectID.isEmpty { problems.append(("project_id", "is required")) }
        else if !plain(projectID, 100) { problems.append(("project_id", "must be a project id (at most 100 characters, no spaces)")) }
        let clientEmail = json["client_email"]?.stringValue ?? ""
        if !clientEmail.contains("@") || !plain(clientEmail, 254) { problems.append(("client_email", "must be the service account's email")) }
        if let keyID = json["private_key_id"]?.stringValue, !plain(keyID, 100) {
            problems.append(("private_key_id", "must be at most 100 characters, no spaces"))
        }
        var key: _RSA.Signing.PrivateKey?
        if let pem = json["private_key"]?.stringValue, !pem.isEmpty {
            // Google issues 2048-bit keys; a huge key would make every token exchange cost a fraction of a second.
            key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem)
            if let size = key?.keySizeInBits, size > 4096 { key = nil }
            if key == nil { problems.append(("private_key", "is not a PEM RSA private key of 2048 to 4096 bits")) }
        } else {
            problems.append(("private_key", "is required"))
        }
        guard problems.isEmpty, let key else { throw Invalid(problems: problems) }
        self.projectID = projectID
        self.clientEmail = clientEmail
        self.privateKeyID = json["private_key_id"]?.stringValue
        self.tokenURI = json["token_uri"]?.stringValue ?? "https://oauth2.googleapis.com/token"
        self.privateKey = key
    }

    /// The signed JWT assertion (RS256) that `tokenURL` exchanges for an access token.
    public func assertion(scope: String, tokenURL: String, now: Date) throws -> String {
        var header: JSONValue = ["alg": "RS256", "typ": "JWT"]
        if let privateKeyID, case .object(var object) = header {
            object["kid"] = .string(privateKeyID)
            header = .object(object)
        }
        let issued = Int64(now.timeIntervalSince1970)
        let claims: JSONValue = ["iss": .string(clientEmail), "scope": .string(scope), "aud": .string(tokenURL),
                                 "iat": .int(issued), "exp": .int(issued + 3600)]
        let signingInput = header.jsonData.base64URL + "." + claims.jsonData.base64URL
        let signature = try privateKey.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return signingInput + "." + signature.rawRepresentation.base64URL
    }
}

/// Access tokens for one service account and scope, cached until a minute before they expire; concurrent callers
/// share one exchange.
public actor GoogleAccessTokenSource {
    public let account: GoogleServiceAccount
    public let scope: String
    /// Where the assertion goes. The key file's own `token_uri` only when the key comes from the operator: for keys
    /// customers upload it is configuration's, so an uploaded key cannot make the server call an address of its
    /// choosing.
    public let tokenURL: String
    private let client: HTTPClient
    private var cached: (token: String, expiresAt: Date)?
    private var inFlight: Task<(String, Date), any Error>?

    public init(account: GoogleServiceAccount, scope: String = "https://www.googleapis.com/auth/cloud-platform",
                tokenURL: String? = nil, client: HTTPClient = .shared) {
        self.account = account
        self.scope = scope
        self.tokenURL = tokenURL ?? account.tokenURI
        self.client = client
    }

    public func token() async throws -> String {
        if let cached, cached.expiresAt.timeIntervalSinceNow > 60 { return cached.token }
        if let inFlight { return try await inFlight.value.0 }
        let task = Task { try await self.exchange() }
        inFlight = task
        defer { inFlight = nil }
        let (token, expiresAt) = try await task.value
        cached = (token, expiresAt)
        return token
    }

    private func exchange() async throws -> (String, Date) {
        let assertion = try account.assertion(scope: scope, tokenURL: tokenURL, now: Date())
        var request = HTTPClientRequest(url: tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let form = "grant_type=" + "urn:ietf:params:oauth:grant-type:jwt-bearer".formEncoded + "&assertion=" + assertion.formEncoded
        request.body = .bytes(ByteBuffer(string: form))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw ProviderError(.connection, message: "Could not reach Google's token endpoint.")
        }
        let body = JSONValue.parse(String(buffer: try await response.body.collect(upTo: 1 << 20)))
        guard response.status == .ok, let token = body?["access_token"]?.stringValue else {
            let reason = body?["error_description"]?.stringValue ?? body?["error"]?.stringValue ?? "HTTP \(response.status.code)"
            throw ProviderError(response.status.code >= 500 ? .unavailable : .authentication, status: Int(response.status.code),
                                message: "Google refused the service account's token request: \(reason)")
        }
        let lifetime = Double(body?["expires_in"]?.intValue ?? 3600)
        return (token, Date().addingTimeInterval(lifetime))
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension String {
    var formEncoded: String {
        addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? self
    }
}
