import Core
import Foundation
import Testing

/// The hand-written UUID text against Foundation's, which it replaces on hot paths.
@Suite("UUID text")
struct UUIDTextTests {
    @Test("Formatting and parsing agree with Foundation on random ids, in either case")
    func differential() {
        for _ in 0..<2_000 {
            let id = UUID()
            #expect(id.lowercased == id.uuidString.lowercased())
            var bytes = Array("x".utf8)
            id.appendLowercased(to: &bytes)
            #expect(bytes == Array(("x" + id.uuidString.lowercased()).utf8))
            #expect(UUID.parse(id.uuidString) == id)
            #expect(UUID.parse(id.lowercased) == id)
        }
    }

    @Test("Only the exact 8-4-4-4-12 hex form parses (Foundation's sscanf takes more), and then as Foundation reads it")
    func malformed() throws {
        let good = UUID().lowercased
        var inputs = ["", "-", good + "0", String(good.dropLast()), good.replacingOccurrences(of: "-", with: ""),
                      good.replacingOccurrences(of: "-", with: "+"), " " + good.dropFirst(), good.uppercased() + " ",
                      String(repeating: "g", count: 36), "00000000-0000-0000-0000-00000000000é"]
        // Every character of a good id swapped for a few that may or may not belong there.
        for index in good.indices {
            for replacement in ["g", "-", "0", "F", "\u{0}"] {
                inputs.append(good.replacingCharacters(in: index...index, with: replacement))
            }
        }
        let form = try Regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        for input in inputs {
            let exact = input.wholeMatch(of: form) != nil
            #expect((UUID.parse(input) != nil) == exact, "\(input)")
            if exact { #expect(UUID.parse(input) == UUID(uuidString: input), "\(input)") }
        }
    }

    @Test("New ids are version 4 of the RFC 4122 variant, as Foundation's, and do not repeat")
    func random() {
        var seen = Set<UUID>()
        var bits = [Int](repeating: 0, count: 128)
        let count = 20_000
        for _ in 0..<count {
            let id = UUID.random()
            let text = id.lowercased
            #expect(Array(text)[14] == "4", "\(text)")
            #expect("89ab".contains(Array(text)[19]), "\(text)")
            seen.insert(id)
            withUnsafeBytes(of: id.uuid) { bytes in
                for bit in 0..<128 where bytes[bit / 8] & (1 << (bit % 8)) != 0 { bits[bit] += 1 }
            }
        }
        #expect(seen.count == count)
        // Every bit but the six fixed ones is set about half the time: the bytes are random, not a counter or zeros.
        let fixed: Set<Int> = [52, 53, 54, 55, 70, 71]
        for bit in 0..<128 where !fixed.contains(bit) {
            #expect((count * 45 / 100...count * 55 / 100).contains(bits[bit]), "bit \(bit) set \(bits[bit]) times of \(count)")
        }
    }
}
