/// Tests on eight bytes at once, for scanning JSON text: a word holds a byte below `n` when
/// `(w - 0x01..01 * n) & ~w & 0x80..80` is not zero (for `n` up to 0x80), and a byte equal to `b` when `w` XORed with
/// `b` in every byte holds one below 1.
enum ByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101

    /// Whether any byte of `word` is below `bound`.
    @inline(__always)
    static func anyBelow(_ word: UInt64, _ bound: UInt8) -> Bool {
        (word &- ones &* UInt64(bound)) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// Whether any byte of `word` is `byte`.
    @inline(__always)
    static func any(_ word: UInt64, equalTo byte: UInt8) -> Bool {
        anyBelow(word ^ (ones &* UInt64(byte)), 1)
    }

    /// The offset, at or after `start`, of the first eight-byte word of `bytes` that may hold a JSON string's end or
    /// escape (a quote, a backslash or a control character) or `alsoStop`; what follows it, under eight bytes at the
    /// end included, is left for a byte-by-byte look.
    @inline(__always)
    static func skipPlain(_ bytes: UnsafeRawBufferPointer, from start: Int, alsoStop: UInt8? = nil) -> Int {
        var offset = start
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            if anyBelow(word, 0x20) || any(word, equalTo: 0x22) || any(word, equalTo: 0x5C) { break }
            if let alsoStop, any(word, equalTo: alsoStop) { break }
            offset += 8
        }
        return offset
    }
}
