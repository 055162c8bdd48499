import Foundation
import LLM

/// What a model costs, in US dollars per million tokens (from configuration).
public struct ModelPrice: Sendable, Equatable {
    public var input: Double
    public var cachedInput: Double
    public var output: Double

    public init(input: Double, cachedInput: Double? = nil, output: Double) {
        self.input = input
        self.cachedInput = cachedInput ?? input
        self.output = output
    }

    /// Cached prompt tokens at their own price, the rest of the prompt at the input price.
    public func cost(_ usage: Usage) -> Double {
        let uncached = max(0, usage.inputTokens - usage.cachedInputTokens)
        return (Double(uncached) * input + Double(usage.cachedInputTokens) * cachedInput + Double(usage.outputTokens) * output) / 1_000_000
    }
}

/// Token usage over a range of days, by day or by model, with its estimated cost.
public struct UsageReport: Sendable {
    public enum Grouping: String, Sendable { case day, model }

    public struct Line: Sendable, Equatable {
        public let key: String
        public var requests: Int
        public var usage: Usage
        public var cost: Double
    }

    public let from: String
    public let to: String
    public let grouping: Grouping
    public let lines: [Line]
    public let total: Line

    public init(rows: [UsageStore.DailyUsage], from: String, to: String, grouping: Grouping, prices: [String: ModelPrice]) {
        self.from = from
        self.to = to
        self.grouping = grouping
        var lines: [String: Line] = [:]
        var total = Line(key: "total", requests: 0, usage: .zero, cost: 0)
        for row in rows {
            let key = grouping == .day ? row.day : row.model
            let cost = prices[row.model]?.cost(row.usage) ?? 0
            var line = lines[key] ?? Line(key: key, requests: 0, usage: .zero, cost: 0)
            line.requests += row.requests
            line.usage = line.usage + row.usage
            line.cost += cost
            lines[key] = line
            total.requests += row.requests
            total.usage = total.usage + row.usage
            total.cost += cost
        }
        self.lines = lines.values.sorted { $0.key < $1.key }
        self.total = total
    }
}
