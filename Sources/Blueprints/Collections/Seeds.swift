import Core
import Crypto
import Foundation
import LLM
import Logging
import Storage

/// A collection's seed file: a JSON array of records, loaded at every start and idempotent. Each record is keyed by
/// its `id` when it gives one, else by a UUID derived from its content, so a seed already loaded is never loaded
/// twice (and a record changed in the file is added as a new one: give records ids to edit them in place).
enum Seeds {
    static func load(_ collection: CollectionSpec, blueprint: Blueprint, db: any Database, clock: WallClock, logger: Logger) async throws {
        guard let file = collection.seed else { return }
        let path = blueprint.directory + "/" + file
        guard let data = FileManager.default.contents(atPath: path), case .array(let records)? = JSONValue.parse(data) else {
            throw BlueprintError(["\(path): a seed file is a JSON array of records"])
        }
        let store = CollectionStore(collection: collection, blueprint: blueprint, db: db, clock: clock)
        let now = clock.now.millis
        var problems: [String] = []
        var rows: [(id: String, values: [String: JSONValue])] = []
        for (index, record) in records.enumerated() {
            var body = record.objectValue ?? [:]
            let given = body.removeValue(forKey: "id")
            let id: String
            if let given {
                guard let parsed = given.stringValue.flatMap(UUID.parse) else {
                    problems.append("\(path): record \(index): id must be a UUID")
                    continue
                }
                id = parsed.lowercased
            } else {
                id = derivedID(collection: collection, record: .object(body))
            }
            do {
                rows.append((id, try RecordInput.values(.object(body), collection, .seed)))
            } catch {
                problems.append("\(path): record \(index): " + error.fieldErrors.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            }
        }
        guard problems.isEmpty else { throw BlueprintError(problems) }
        let checked = rows
        let loaded = try await store.writing { sql in
            for row in checked {
                try await store.insert(id: row.id, owner: nil, values: row.values, now: now, ignoreExisting: true, on: sql)
            }
            return checked.count
        }
        logger.debug("seed checked", metadata: ["collection": "\(collection.name)", "records": "\(loaded)"])
    }

    /// A version-5-style UUID from the record's content: the same record always gets the same id.
    static func derivedID(collection: CollectionSpec, record: JSONValue) -> String {
        var bytes = Array(SHA256.hash(data: Data((collection.table + "\n" + record.jsonString).utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return uuid.lowercased
    }
}
