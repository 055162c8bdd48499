import Foundation

/// UUIDs as text, written and read by hand: Foundation's `uuidString` and `UUID(uuidString:)` go through
/// `sprintf` and `sscanf` on Linux, and ids are formatted and parsed several times in every request.
extension UUID {
    /// How ids are stored and shown: lowercase, `8-4-4-4-12`.
    public var lowercased: String {
        withUnsafeBytes(of: uuid) { UUID.format(Array($0)) }
    }

    /// Lowercase `8-4-4-4-12` text of 16 bytes.
    static func format(_ bytes: [UInt8]) -> String {
        var text = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
        var position = 0
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { position += 1 }
            text[position] = hexDigits[Int(byte >> 4)]
            text[position + 1] = hexDigits[Int(byte & 0x0F)]
            position += 2
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A UUID in `8-4-4-4-12` form, either case; nil for anything else.
    public static func parse(_ text: some StringProtocol) -> UUID? {
        var bytes = [UInt8](repeating: 0, count: 16)
        var count = 0
        var high: UInt8?
        for (index, character) in text.utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard index < 36, let value = character.hexDigitValue else { return nil }
            if let first = high {
                bytes[count] = first << 4 | value
                count += 1
                high = nil
            } else {
                high = value
            }
        }
        guard count == 16, high == nil else { return nil }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
