import SQLKit

/// A statement whose text never changes, only its binds: for the few statements that run on every request.
///
/// SQLKit serializes a `SQLQueryString` from its pieces on every run (a bind placeholder asked of the dialect, each
/// piece appended): 9,000 instructions for the session look-up that every authenticated request makes, where the
/// look-up itself costs SQLite less. On SQLite a fixed statement's text is made once; on PostgreSQL it serializes
/// through the dialect as any statement does.
public struct FixedStatement: SQLExpression {
    /// The text, with `?` where each bind goes (so the text itself must hold no other `?`).
    public final class Text: Sendable {
        /// As given, to be part of another fixed statement's text.
        public let text: String
        let pieces: [String]
        /// SQLite's text, with numbered placeholders as SQLiteKit writes them (`?1`, `?2`...), and its hash.
        let sqlite: SQLiteText

        public init(_ text: String) {
            self.text = text
            pieces = text.split(separator: "?", omittingEmptySubsequences: false).map(String.init)
            var sqlite = pieces[0]
            for (index, piece) in pieces.dropFirst().enumerated() {
                sqlite += "?\(index + 1)" + piece
            }
            self.sqlite = SQLiteText(sqlite)
        }

        /// The statement with these binds, one for each `?` in order.
        public func callAsFunction(_ binds: any Encodable & Sendable...) -> FixedStatement {
            precondition(binds.count == pieces.count - 1, "a fixed statement takes one bind for each ?")
            return FixedStatement(text: self, binds: binds)
        }
    }

    let text: Text
    let binds: [any Encodable & Sendable]

    public func serialize(to serializer: inout SQLSerializer) {
        serializer.write(text.pieces[0])
        for (bind, piece) in zip(binds, text.pieces.dropFirst()) {
            serializer.write(bind: bind)
            serializer.write(piece)
        }
    }
}

extension Database {
    /// Runs a fixed statement and returns its first row, if any.
    public func first(_ statement: FixedStatement) async throws -> (any SQLRow)? {
        // As SQLKit's `first()` collects it: rows come one after another, never at once.
        nonisolated(unsafe) var rows = [any SQLRow]()
        try await sql.execute(sql: statement) { if rows.isEmpty { rows.append($0) } }
        return rows.first
    }
}
