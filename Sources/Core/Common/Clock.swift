import Foundation

/// Where "now" comes from. Tests move it to check expiry without sleeping.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date = { Date() }) {
        self.read = read
    }

    public var now: Date { read() }

    public static let system = WallClock()
}

extension Date {
    /// Milliseconds since 1970: how every timestamp is stored, identically on SQLite and PostgreSQL.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    public init(millis: Int64) {
        self.init(timeIntervalSince1970: Double(millis) / 1000)
    }
}
