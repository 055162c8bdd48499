import Logging

/// The one line logged for every request: method, path (never its query), status, duration and client address.
///
/// Through the `Logger` API the line cost more than a tenth of a health check: a metadata dictionary built, sorted
/// and searched for secret words, and the duration formatted as a `Double`. With our `JSONLogHandler` (the server's
/// handler) the line is written directly, byte for byte the same; any other handler gets it through `Logger`.
struct AccessLog: Sendable {
    static let message = "request"
    let logger: Logger
    private let direct: JSONLogHandler?

    init(logger: Logger) {
        self.logger = logger
        direct = (logger.handler as? JSONLogHandler).flatMap { $0.writesAccessLines ? $0 : nil }
    }

    func write(method: String, path: String, status: Int, durationMicros: Int64, client: String) {
        guard logger.logLevel <= .info else { return }
        if let direct {
            direct.logAccess(method: method, path: path, status: status, durationMicros: durationMicros, client: client)
        } else {
            logger.info("\(Self.message)", metadata: Self.metadata(method: method, path: path, status: status,
                                                                   durationMicros: durationMicros, client: client))
        }
    }

    static func metadata(method: String, path: String, status: Int, durationMicros: Int64, client: String) -> Logger.Metadata {
        ["method": .string(method), "path": .string(path), "status": .string(String(status)),
         "duration_ms": .string(milliseconds(durationMicros)), "client": .string(client)]
    }

    /// Microseconds as milliseconds with up to three decimals and no trailing zeros, but one (`0.005`, `1.5`, `12.0`):
    /// what the `Double` the line used to hold printed, without formatting a floating-point number.
    static func milliseconds(_ micros: Int64) -> String {
        let micros = max(micros, 0)
        var fraction = Int(micros % 1000), digits = 3
        while digits > 1, fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        return String(micros / 1000) + "." + String(repeating: "0", count: digits - text.count) + text
    }
}
