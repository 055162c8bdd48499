import Foundation
import NIOCore

/// Which address a request comes from: the socket's peer, unless that peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
struct ClientAddressResolver: Sendable {
    private let trusted: [AddressRange]

    /// Entries that do not parse were already refused by `Settings`.
    init(trustedProxies: [String]) {
        trusted = trustedProxies.compactMap(AddressRange.init)
    }

    func resolve(peer: String?, forwardedFor: String?) -> String {
        guard let peer else { return "unknown" }
        guard !trusted.isEmpty, isTrusted(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for hop in hops.reversed() where !isTrusted(hop) {
            return hop
        }
        return hops.first ?? peer
    }

    /// The peer's address as text. An IPv4 address is written here from its four bytes: NIO's `ipAddress` goes
    /// through `inet_ntop` and a C string, about 3,000 instructions, and every request resolves its client.
    static func text(of peer: SocketAddress?) -> String? {
        guard case .v4(let address) = peer else { return peer?.ipAddress }
        let value = UInt32(bigEndian: address.address.sin_addr.s_addr)
        var text: [UInt8] = []
        text.reserveCapacity(15)
        for shift in stride(from: 24, through: 0, by: -8) {
            let byte = UInt8(truncatingIfNeeded: value >> UInt32(shift))
            if shift != 24 { text.append(UInt8(ascii: ".")) }
            if byte >= 100 { text.append(UInt8(ascii: "0") + byte / 100) }
            if byte >= 10 { text.append(UInt8(ascii: "0") + byte / 10 % 10) }
            text.append(UInt8(ascii: "0") + byte % 10)
        }
        return String(decoding: text, as: UTF8.self)
    }

    private func isTrusted(_ address: String) -> Bool {
        guard let bytes = AddressRange.parse(address) else { return false }
        return trusted.contains { $0.contains(bytes) }
    }
}

/// An IPv4 or IPv6 address with a prefix length (`10.0.0.0/8`, `::1`, `192.168.1.5`).
struct AddressRange: Sendable {
    let network: [UInt8]
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let network = Self.parse(String(first)) else { return nil }
        let prefix = parts.count == 2 ? Int(parts[1]) : network.count * 8
        guard let prefix, (0...(network.count * 8)).contains(prefix) else { return nil }
        self.network = network
        self.prefix = prefix
    }

    func contains(_ address: [UInt8]) -> Bool {
        guard address.count == network.count else { return false }
        var remaining = prefix
        for (a, n) in zip(address, network) where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if a & mask != n & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
