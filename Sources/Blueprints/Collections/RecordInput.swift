import Core
import Foundation
import LLM

/// A request body checked against a collection's schema, every problem reported at once as a field error with its
/// path (`sets.0.reps`). The owner and the record's own columns (`id`, `created_at`...) are the server's: a body
/// that names one is refused, as is any field the schema does not declare.
enum RecordInput {
    enum Mode {
        /// Every field: the body's, else the default, else null.
        case create
        /// As `create`, from the blueprint's own seed file, which may set readonly fields.
        case seed
        /// Every field again, from the body alone (immutable fields keep what they hold).
        case replace(existing: [String: JSONValue])
        /// Only the fields the body names.
        case patch(existing: [String: JSONValue])
    }

    /// The values to store, by field name.
    static func values(_ body: JSONValue, _ collection: CollectionSpec, _ mode: Mode) throws(AppError) -> [String: JSONValue] {
        guard case .object(let object) = body else {
            throw AppError.badRequest("The request body must be a JSON object.", code: "malformed_body")
        }
        var errors: [FieldError] = []
        for key in object.keys.sorted() {
            // A team-owned record names its team when it is created, and stays in it.
            if key == SystemField.teamID.rawValue, collection.owner == .team {
                if !isCreate(mode) { errors.append(FieldError(field: key, code: "immutable", message: "a record stays in the team it was created in")) }
                continue
            }
            guard let field = collection.field(key) else {
                errors.append(FieldError(field: key, code: SystemField(rawValue: key) == nil ? "unknown_field" : "readonly",
                                         message: SystemField(rawValue: key) == nil ? "is not a field of \(collection.name)" : "is set by the server"))
                continue
            }
            if field.readonly, !isSeed(mode) { errors.append(FieldError(field: key, code: "readonly", message: "is set by the server")) }
        }
        if collection.owner == .team, isCreate(mode), teamID(object) == nil {
            errors.append(object["team_id"] == nil ? FieldError(field: "team_id", code: "required", message: "is required")
                          : FieldError(field: "team_id", code: "invalid_format", message: "must be a team's id (a UUID)"))
        }
        var values: [String: JSONValue] = [:]
        for field in collection.fields where !field.readonly || isCreate(mode) {
            var value = object[field.name]
            switch mode {
            case .create, .seed:
                value = value ?? field.defaultValue
            case .replace(let existing):
                if field.readonly { continue }
                if field.immutable {
                    if let value, value != existing[field.name] ?? .null { errors.append(immutable(field)) }
                    continue
                }
                value = value ?? field.defaultValue
            case .patch(let existing):
                guard let given = value, !field.readonly else { continue }
                if field.immutable, given != existing[field.name] ?? .null { errors.append(immutable(field)) }
            }
            guard let value else {
                if field.required { errors.append(FieldError(field: field.name, code: "required", message: "is required")) }
                values[field.name] = .null
                continue
            }
            errors += problems(value, field)
            values[field.name] = value
        }
        if !errors.isEmpty { throw AppError.validation(errors) }
        return values
    }

    /// The team a body creates its record in, lowercased; nil when it names none.
    static func teamID(_ body: [String: JSONValue]) -> String? {
        body["team_id"]?.stringValue.flatMap(UUID.parse)?.lowercased
    }

    private static func isCreate(_ mode: Mode) -> Bool {
        switch mode {
        case .create, .seed: true
        default: false
        }
    }

    private static func isSeed(_ mode: Mode) -> Bool {
        if case .seed = mode { return true }
        return false
    }

    private static func immutable(_ field: Field) -> FieldError {
        FieldError(field: field.name, code: "immutable", message: "is set when the record is created and cannot change")
    }

    static func problems(_ value: JSONValue, _ field: Field) -> [FieldError] {
        var errors = JSONSchema.validate(value, against: field.schema).map { violation in
            FieldError(field: violation.path.isEmpty ? field.name : field.name + "." + violation.path, code: violation.code, message: violation.message)
        }
        guard errors.isEmpty else { return errors }
        if field.kind == .integer, value.doubleValue.flatMap({ Int64(exactly: $0) }) == nil, value != .null {
            errors.append(FieldError(field: field.name, code: "out_of_range", message: "must be a whole number within 64 bits"))
        }
        if value.depth > JSONValue.maxStoredDepth {
            errors.append(FieldError(field: field.name, code: "too_deep", message: "nests deeper than \(JSONValue.maxStoredDepth) levels"))
        }
        if containsNUL(value) {
            errors.append(FieldError(field: field.name, code: "invalid_text", message: "must not contain NUL characters"))
        }
        return errors
    }

    private static func containsNUL(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): text.containsNUL
        case .array(let items): items.contains(where: containsNUL)
        case .object(let members): members.contains { $0.key.containsNUL || containsNUL($0.value) }
        default: false
        }
    }
}
