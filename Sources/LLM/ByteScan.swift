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
}
