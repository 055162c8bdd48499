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
}
