import Core
import Foundation
import Testing

@Suite("RFC 3339 formatting")
struct RFC3339Tests {
    @Test("Milliseconds are formatted as the C library's calendar says, across eras, leap years and before 1970")
    func matchesTheCLibrary() {
        var generator = SystemRandomNumberGenerator()
        let edges: [Int64] = [0, -1, 1, 951_782_400_000, 951_868_799_999, 4_107_542_399_999, -62_135_596_800_000, 253_402_300_799_999,
                              -62_167_219_200_000, 253_402_300_800_000, 1_700_000_000_123]
        let samples = edges + (0..<2000).map { _ in Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &generator) }
        for millis in samples {
            let (seconds, remainder) = millis.quotientAndRemainder(dividingBy: 1000)
            let whole = remainder < 0 ? seconds - 1 : seconds
            var time = time_t(whole)
            var parts = tm()
            gmtime_r(&time, &parts)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                                  Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                                  Int(remainder < 0 ? remainder + 1000 : remainder))
            let year = Int(parts.tm_year) + 1900
            if (0...9999).contains(year) {
                #expect(RFC3339.format(millis: millis) == expected, "\(millis)")
            }
            #expect(RFC3339.millis(RFC3339.format(millis: millis)) == millis || !(0...9999).contains(year), "round trip of \(millis)")
        }
    }

    @Test("Dates with whole seconds or milliseconds are formatted as the C library's calendar says, fractions cut, not rounded")
    func datesMatchTheCLibrary() {
        var generator = SystemRandomNumberGenerator()
        let edges: [Double] = [0, -0.5, 0.9999, 1_700_000_000.123_456, 951_782_400, -62_135_596_800, 253_402_300_799.999,
                               -62_135_596_800.5, 253_402_300_800, -1e12, 1e12]
        let samples = edges + (0..<2000).map { _ in Double.random(in: -62_200_000_000...253_500_000_000, using: &generator) }
        for sample in samples {
            let date = Date(timeIntervalSince1970: sample)
            // The instant the date holds, not the sample: `Date` keeps its time from 2001, so for a rare value far from
            // both epochs the two differ in the last bit and a fraction such as .306 reads back as .305999.
            let seconds = date.timeIntervalSince1970
            var whole = time_t(seconds.rounded(.down))
            var parts = tm()
            gmtime_r(&whole, &parts)
            let stem = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                              Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
            let millis = min(999, Int(((seconds - seconds.rounded(.down)) * 1000).rounded(.down)))
            // Appended bytes are the formatted text's, after what was there, for every date and precision.
            for digits in [0, 3, 6] {
                var bytes = Array("x".utf8)
                RFC3339.append(date, fractionalDigits: digits, to: &bytes)
                #expect(bytes == Array(("x" + RFC3339.format(date, fractionalDigits: digits)).utf8), "\(seconds), \(digits) digits")
            }
            guard (0...9999).contains(Int(parts.tm_year) + 1900) else { continue }
            #expect(RFC3339.format(date, fractionalDigits: 0) == stem + "Z", "\(seconds)")
            #expect(RFC3339.format(date, fractionalDigits: 3) == stem + String(format: ".%03dZ", millis), "\(seconds)")
        }
    }
}
