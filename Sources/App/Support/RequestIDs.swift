import Core
import Foundation
import Synchronization

/// Request ids in UUID (version 4) form, made without a system call: a counter run through a bijective mixer keyed
/// at random per process, so ids never repeat within a process (2^60 of them) and look random across processes.
/// `UUID()` would read the system's random source for every request.
enum RequestIDs {
    private static let key: (UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        // `unique` is a bijection of n: its 64 bits all go into the id (62 in the low half, the top 2 in the high
        // half's last bits), around the version and variant bits. The rest of the high half only looks random.
        let unique = mix(n ^ key.0)
        var high = mix(n &+ key.1)
        high = (high & ~0xF003) | 0x4000 | (unique >> 62)  // version 4 in bits 12-15
        let low = (unique & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // the RFC 4122 variant
        var id: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &id) { raw in
            raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return UUID(uuid: id).lowercased
    }

    /// SplitMix64's finaliser: a bijection on 64 bits.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
