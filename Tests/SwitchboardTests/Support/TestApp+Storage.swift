import Foundation
import SQLKit
import Storage

extension TestApp {
    /// Whether any column of any table holds `needle`: how a test proves that something was never stored.
    func databaseHolds(_ needle: String) async throws -> Bool {
        let db = server.database
        if db.engine == .postgres {
            let tables = try await db.all("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
            for table in try tables.map({ try $0.decode(column: "name", as: String.self) }) {
                let found = try await db.all("SELECT 1 AS hit FROM \(ident: table) t WHERE t::text LIKE \(bind: "%" + needle + "%") LIMIT 1")
                if !found.isEmpty { return true }
            }
            return false
        }
        let tables = try await db.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        for table in try tables.map({ try $0.decode(column: "name", as: String.self) }) {
            for row in try await db.all("SELECT * FROM \(ident: table)") {
                for column in row.allColumns {
                    if let text = try? row.decode(column: column, as: String?.self), text.contains(needle) { return true }
                }
            }
        }
        return false
    }
}
