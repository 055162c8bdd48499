/// A statement's SQLite text, hashed once: the connections keep their prepared statements by it. The text of a
/// statement that runs on every request (`FixedStatement`) is made once, and so is its hash: hashing its 400 bytes
/// again on each run cost 1,500 instructions, more than SQLite's own look-up of the session.
struct SQLiteText: Hashable, Sendable {
    let sql: String
    /// Whether it begins, past any white space, with `SELECT` or `WITH` in any case: a statement that a read
    /// connection may be asked to run.
    let isQuery: Bool
    private let hash: Int

    init(_ sql: String) {
        self.sql = sql
        hash = sql.hashValue
        var sql = sql
        isQuery = sql.withUTF8 { bytes in
            guard let start = bytes.firstIndex(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D) }) else { return false }
            // Letters compared in upper case: `s` & 0xDF is `S`.
            func begins(_ word: StaticString) -> Bool {
                word.utf8CodeUnitCount <= bytes.count - start
                    && (0..<word.utf8CodeUnitCount).allSatisfy { bytes[start + $0] & 0xDF == word.utf8Start[$0] }
            }
            return begins("SELECT") || begins("WITH")
        }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func == (left: SQLiteText, right: SQLiteText) -> Bool { left.hash == right.hash && left.sql == right.sql }
}
