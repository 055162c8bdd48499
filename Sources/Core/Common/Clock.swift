import Foundation

/// Where "now" comes from. Tests move it to check expiry without sleeping.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date
    /// The real time: what a database server's clock also says, so work can be timed there instead.
    public let isSystem: Bool

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
        self.isSystem = false
    }

    private init() {
        self.read = { Date() }
        self.isSystem = true
    }

    public var now: Date { read() }

    public static let system = WallClock()
}

extension Date {
    /// Milliseconds since 1970: how every timestamp is stored, identically on SQLite and PostgreSQL.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    public var micros: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded(.down)) }

    public init(millis: Int64) {
        self.init(timeIntervalSince1970: Double(millis) / 1000)
    }
}
