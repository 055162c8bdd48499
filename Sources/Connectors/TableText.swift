import LLM

/// Rows as a compact text table for the model: a header line, then one line per row, cells separated by " | ".
/// Cheaper in tokens than JSON objects that repeat every column name on every row.
enum TableText {
    static func render(columns: [String], rows: [[String]]) -> String {
        ([columns] + rows).map { $0.map(clean).joined(separator: " | ") }.joined(separator: "\n")
    }

    /// One line per cell: newlines and the separator would break the table.
    private static func clean(_ cell: String) -> String {
        cell.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
    }
}
