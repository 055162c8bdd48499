@testable import Connectors
import Core
import Crypto
import Foundation
import Testing

/// SigV4 as AWS documents it: the published example request signs to the published signature.
@Suite("S3 request signing (SigV4)")
struct S3SignerTests {
    static let signer = S3Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    static let date = Date(timeIntervalSince1970: 1_369_353_600)   // 2013-05-24T00:00:00Z

    @Test("AWS's GET Object example: its canonical request, string to sign and signature")
    func getObject() {
        let headers = Self.signer.sign(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [],
                                       headers: [("Range", "bytes=0-9")], payloadHash: S3Signer.emptyPayload, date: Self.date)
        let authorization = headers.first { $0.0 == "Authorization" }?.1
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
        let canonical = Self.signer.canonicalRequest(method: "GET", path: "/test.txt", query: [], headers: [
            ("host", "examplebucket.s3.amazonaws.com"), ("range", "bytes=0-9"), ("x-amz-content-sha256", S3Signer.emptyPayload),
            ("x-amz-date", "20130524T000000Z"),
        ], signedHeaders: "host;range;x-amz-content-sha256;x-amz-date", payloadHash: S3Signer.emptyPayload)
        #expect(Array(SHA256.hash(data: Data(canonical.utf8))).hexString == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972", "\(canonical)")
    }

    @Test("Paths and queries are encoded as SigV4 wants: unreserved characters kept, the rest percent-encoded, the query sorted")
    func encoding() {
        #expect(S3Signer.encode("a b/c~d+e", keepingSlashes: true) == "a%20b/c~d%2Be")
        #expect(S3Signer.encode("a/b", keepingSlashes: false) == "a%2Fb")
        let canonical = Self.signer.canonicalRequest(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2"), ("uploads", "")],
                                                     headers: [], signedHeaders: "", payloadHash: "x")
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == "max-keys=2&prefix=J&uploads=")
    }
}
