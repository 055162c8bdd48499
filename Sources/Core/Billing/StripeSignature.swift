import Crypto
import Foundation

/// Verifies `Stripe-Signature: t=<unix time>,v1=<hex>,v1=<hex>...`: an HMAC-SHA256 with the endpoint's secret over
/// `<t>.<raw body>`. Every `v1` is compared in constant time; a timestamp more than `tolerance` away is refused, so a
/// captured delivery cannot be replayed later.
public enum StripeSignature {
    public enum Failure: Error, Equatable {
        case missing
        case malformed
        case stale
        case mismatch
    }

    public static func verify(header: String?, payload: [UInt8], secret: String, now: Date, tolerance: TimeInterval = 300) throws(Failure) {
        guard let header, !header.isEmpty else { throw .missing }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": if let bytes = hexBytes(pair[1]) { signatures.append(bytes) }
            default: continue // v0 and other schemes are ignored, as Stripe's own libraries do
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformed }
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { throw .stale }
        let expected = Array(HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + payload, using: SymmetricKey(data: Data(secret.utf8))))
        var matched = false
        // Every v1 is compared, each in constant time.
        for signature in signatures where constantTimeEqual(signature, expected) { matched = true }
        guard matched else { throw .mismatch }
    }

    /// The header Stripe would send for `payload` at `timestamp` (for tests and tools).
    public static func header(payload: [UInt8], secret: String, timestamp: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + payload, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + Array(code).hexString
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
