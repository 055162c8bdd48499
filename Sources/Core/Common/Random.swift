import Crypto
import Foundation

enum Random {
    /// `count` bytes from the system's secure generator, base64url without padding.
    static func token(bytes count: Int) -> String {
        Data(bytes(count)).base64URLEncoded()
    }

    /// `count` bytes from the system's secure generator, as lowercase hex.
    static func hex(bytes count: Int) -> String {
        bytes(count).hexString
    }

    private static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

extension Data {
    public func base64URLEncoded() -> String {
        base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public init?(base64URLEncoded string: some StringProtocol) {
        var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}

/// SHA-256 as lowercase hex: how refresh tokens are stored, so a database dump cannot be replayed.
func sha256Hex(_ string: String) -> String {
    Array(SHA256.hash(data: Data(string.utf8))).hexString
}

extension Sequence<UInt8> {
    /// Lowercase hex, two digits a byte. Not `String(format:)`, which goes through Foundation's formatter (and its
    /// locale machinery) for every byte.
    public var hexString: String {
        var text: [UInt8] = []
        text.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// The lowercase hex digits, by value: `hexString` and `UUID.lowercased` write with them.
let hexDigits = Array("0123456789abcdef".utf8)
