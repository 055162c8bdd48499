import Foundation

/// UUIDs as text, written and read by hand: Foundation's `uuidString` and `UUID(uuidString:)` go through
/// `sprintf` and `sscanf` on Linux, and ids are formatted and parsed several times in every request. Both work on
/// the 16 bytes in place: iterating the text's UTF-8 view with `enumerated()` and gathering the bytes in an array
/// cost some 8,000 instructions an id, three times in an authenticated request.
extension UUID {
    /// A new random id (version 4), from one `getrandom(2)` (through `arc4random_buf`). Foundation's `UUID()` opens,
    /// reads and closes `/dev/urandom` for each id on Linux: three system calls, and a chat turn makes three ids.
    public static func random() -> UUID {
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { arc4random_buf($0.baseAddress!, $0.count) }
        uuid.6 = (uuid.6 & 0x0F) | 0x40  // version 4
        uuid.8 = (uuid.8 & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: uuid)
    }

    /// How ids are stored and shown: lowercase, `8-4-4-4-12`.
    public var lowercased: String {
        String(unsafeUninitializedCapacity: 36) { text in
            write(into: text)
            return 36
        }
    }

    /// `lowercased`'s 36 bytes appended to `out`, without making the string: a JSON body writes an id this way.
    public func appendLowercased(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { text in
            write(into: text)
            out.append(contentsOf: text)
        }
    }

    /// The text into `text`'s first 36 bytes.
    private func write(into text: UnsafeMutableBufferPointer<UInt8>) {
        withUnsafeBytes(of: uuid) { bytes in
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                text[position] = Self.hexDigit(bytes[index] >> 4)
                text[position + 1] = Self.hexDigit(bytes[index] & 0x0F)
                position += 2
            }
        }
    }

    /// The lowercase hex digit of `nibble` (0 to 15), computed: the table it was read from is a global array, loaded
    /// and bounds-checked for each of an id's 32 digits.
    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble &+ (nibble < 10 ? UInt8(ascii: "0") : UInt8(ascii: "a") &- 10)
    }

    /// A UUID in `8-4-4-4-12` form, either case; nil for anything else.
    public static func parse(_ text: some StringProtocol) -> UUID? {
        guard text.utf8.count == 36 else { return nil }
        var text = String(text)
        return text.withUTF8 { utf8 -> UUID? in
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let parsed = withUnsafeMutableBytes(of: &uuid) { bytes -> Bool in
                var position = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        guard utf8[position] == UInt8(ascii: "-") else { return false }
                        position += 1
                    }
                    guard let high = utf8[position].hexDigitValue, let low = utf8[position + 1].hexDigitValue else { return false }
                    bytes[index] = high << 4 | low
                    position += 2
                }
                return true
            }
            return parsed ? UUID(uuid: uuid) : nil
        }
    }
}
