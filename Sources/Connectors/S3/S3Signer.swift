import Core
import Crypto
import Foundation

/// AWS Signature Version 4 for S3-compatible object stores, in the Authorization header: the canonical request
/// (method, URI-encoded path, sorted query, the signed headers, the payload's SHA-256), the string to sign, and the
/// HMAC chain over date, region and service. Tested against AWS's published example signatures.
public struct S3Signer: Sendable {
    public let accessKey: String
    let secretKey: String
    public let region: String
    public let service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    public static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to send: `headers` with `x-amz-date`, `x-amz-content-sha256` and `Authorization` added. `path` is
    /// the object's path as it is (encoded here); `query` the query's items as they are.
    public func sign(method: String, host: String, path: String, query: [(String, String)], headers: [(String, String)],
                     payloadHash: String, date: Date) -> [(String, String)] {
        let (stamp, day) = Self.timestamps(date)
        var all = headers + [("host", host), ("x-amz-date", stamp), ("x-amz-content-sha256", payloadHash)]
        all = all.map { ($0.0.lowercased(), $0.1.trimmingCharacters(in: .whitespaces)) }.sorted { $0.0 < $1.0 }
        let signedHeaders = all.map(\.0).joined(separator: ";")
        let canonical = canonicalRequest(method: method, path: path, query: query, headers: all, signedHeaders: signedHeaders, payloadHash: payloadHash)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(Array(SHA256.hash(data: Data(canonical.utf8))).hexString)"
        let signature = Array(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day))).hexString
        let authorization = "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        return headers.filter { $0.0.lowercased() != "host" } + [("x-amz-date", stamp), ("x-amz-content-sha256", payloadHash), ("Authorization", authorization)]
    }

    func canonicalRequest(method: String, path: String, query: [(String, String)], headers: [(String, String)], signedHeaders: String,
                          payloadHash: String) -> String {
        let uri = Self.encode(path, keepingSlashes: true)
        let pairs: [(key: String, value: String)] = query.map { (Self.encode($0.0, keepingSlashes: false), Self.encode($0.1, keepingSlashes: false)) }
        let sorted = pairs.sorted { left, right in left.key == right.key ? left.value < right.value : left.key < right.key }
        let canonicalQuery = sorted.map { $0.key + "=" + $0.value }.joined(separator: "&")
        let canonicalHeaders = headers.map { "\($0.0):\($0.1)\n" }.joined()
        return [method, uri.isEmpty ? "/" : uri, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
    }

    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data(("AWS4" + secretKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `20130524T000000Z` and `20130524`, in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
        return (day + String(format: "T%02d%02d%02dZ", c.hour ?? 0, c.minute ?? 0, c.second ?? 0), day)
    }

    /// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters as they are, everything else `%XX`.
    static func encode(_ text: String, keepingSlashes: Bool) -> String {
        var encoded = ""
        for byte in text.utf8 {
            let letter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            let digit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            let mark = byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "~")
            if letter || digit || mark || (keepingSlashes && byte == UInt8(ascii: "/")) {
                encoded.append(Character(UnicodeScalar(byte)))
            } else {
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }
}
