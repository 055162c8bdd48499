import Foundation
import LLM

/// An app described by a directory: `blueprint.yaml` (plus seed files). Loaded and checked by `BlueprintLoader`;
/// everything here has been validated, so the engine never meets a name it cannot quote or a field it cannot store.
public struct Blueprint: Sendable {
    public let directory: String
    /// Lowercase letters, digits and `_`; names the app's tables (`app_<name>_<collection>`) and its migrations.
    public let name: String
    public let title: String
    /// Where the app's routes mount, e.g. `/api/v1`.
    public let prefix: String
    /// In the order the file declares them.
    public let collections: [CollectionSpec]
    /// Platform operations served at the app's own method and path as well (`routes: {auth.signup: POST /auth/register}`).
    public let platformAliases: [PlatformAlias]
    /// Typed fields every user of the app has (`profile:`), stored as a one-record-per-user collection (its `id` is
    /// the user's); nil when the blueprint declares none.
    public let profile: CollectionSpec?
    /// Configuration the blueprint sets, by documented key (`tiers.pro.requests_per_minute`): its tier matrix. The
    /// server reads it below flags, the environment and `.env`, which override it.
    public var configuration: [String: String] = [:]
    /// The app's flags (`flags: {ai: {default: true}}`) by name: their defaults as loaded, then as configured
    /// (`flags.<name>`, `FLAGS_<NAME>`) once the server applied its settings.
    public var flags: [String: Bool] = [:]
    /// The flags frontends may read (`public: true`), by name.
    public var publicFlags: Set<String> = []
    /// The app's agents, beside the configured ones.
    public var agents: [BlueprintAgent] = []
    public var router: BlueprintRouter?
    public var pipelines: [BlueprintPipeline] = []
    /// Chat at the app's own paths and field names.
    public var chatRoutes: [ChatRoute] = []
    /// Tools that read the request's context or hand the app actions (`client_tools:`).
    public var clientTools: [ClientToolSpec] = []
    /// Plan mode's templates and playbooks (`plans:`).
    public var plans: PlanBook?
    /// `app.token_expiry: epoch_seconds`: token routes answer `expires_at` in seconds since 1970, not RFC 3339.
    public var epochTokenExpiry = false
    /// `client_storage: true`: the platform's client-encrypted records and backups, below the app's prefix.
    public var clientStorage = false

    public func collection(named name: String) -> CollectionSpec? {
        collections.first { $0.name == name }
    }

    /// Every webhook step: its URL and the environment variable it signs with.
    public var webhooks: [(url: String, secretEnv: String?)] {
        collections.flatMap { $0.hooks.values.joined() }.compactMap { action in
            if case .webhook(let url, let secret) = action { return (url, secret) }
            return nil
        }
    }

    public var sendsWebhooks: Bool { !webhooks.isEmpty }

    /// The environment variables webhook steps sign with.
    public var webhookSecrets: Set<String> { Set(webhooks.compactMap(\.secretEnv)) }

    /// Whether any rule reads the caller's profile (`@auth.profile.*`): then each request loads it.
    public var rulesReadProfile: Bool {
        collections.contains { collection in
            (Array(collection.rules.values) + collection.fields.flatMap { [$0.readRule, $0.writeRule].compactMap { $0 } })
                .contains { $0.contains("@auth.profile.") }
        }
    }

    /// Every table the app has: its collections' and its profile's.
    public var tables: [CollectionSpec] { collections + (profile.map { [$0] } ?? []) }
}

/// The operations a collection rule can govern.
public enum Rule: String, Sendable, CaseIterable {
    case list, view, create, update, delete

    /// Whether the rule is about a write (and may read `@body`).
    public var writes: Bool { self == .create || self == .update }
}

/// A field holding another record's id: `relations: {plan_id: {collection: plans, on_delete: set_null}}`. A record
/// may only point at a record its writer may view, and what happens to it when that record goes is declared.
public struct Relation: Sendable {
    public enum OnDelete: String, Sendable, CaseIterable {
        /// The pointing records go too.
        case cascade
        /// The field becomes null.
        case setNull = "set_null"
        /// The target cannot be deleted while anything points at it (409).
        case restrict
    }

    public let field: String
    public let collection: String
    public let onDelete: OnDelete
}

public enum HookEvent: String, Sendable, CaseIterable {
    case afterCreate = "after_create", afterUpdate = "after_update", afterDelete = "after_delete"
}

/// One step a hook takes. Values may be `@record.<field>`, `@auth.id` or `@now`, filled in when it runs.
public enum HookAction: Sendable {
    /// Adds `by` (negative to decrement) to a whole-number field, checked against the field's schema.
    case adjust(HookTarget, field: String, by: Int64)
    /// Sets a field, checked against the field's schema.
    case set(HookTarget, field: String, value: JSONValue)
    /// Creates a record in another collection, owned by the caller.
    case create(collection: String, values: [String: JSONValue])
    /// POSTs `{event, app, collection, record, occurred_at}` to `url` after the change commits, signed with the secret
    /// in the environment variable `secretEnv` (the outbox keeps it until delivered).
    case webhook(url: String, secretEnv: String?)
}

/// Whose field a hook changes.
public enum HookTarget: Sendable, Equatable {
    /// The acting user's profile.
    case profile
    /// The record the given relation field points at.
    case relation(String)
}

/// The REST operations of a collection.
public enum CollectionOperation: String, Sendable, CaseIterable {
    case list, create, get, replace, update, delete, aggregate

    /// Whether the operation is about one record (its path names the record's id).
    public var isItem: Bool { [.get, .replace, .update, .delete].contains(self) }
}

/// A collection operation served at another method and path too (`routes: {create: POST /workouts/log}`), so a
/// frontend written for another backend works unchanged.
public struct RouteAlias: Sendable {
    public let operation: CollectionOperation
    public let method: String
    /// Under the app's prefix; an item operation's path has one `{name}` segment, the record's id.
    public let path: String
    /// The name of the path segment that holds the record's id.
    public let parameter: String?
}

/// A platform operation (by a short name such as `auth.signup`, or its operation id in the contract) served at the
/// app's own method and path, under the app's prefix.
public struct PlatformAlias: Sendable {
    public let operation: String
    public let method: String
    /// Its `{name}` segments stand, in order, for the platform path's parameters.
    public let path: String
    /// Query parameters the alias always passes, by name (`GET /api/chats/{id}?include=messages`), in order.
    public var query: [(name: String, value: String)] = []

    /// Short names for the operations apps most often move.
    public static let names = ["auth.signup": "signup", "auth.login": "login", "auth.refresh": "refresh", "auth.logout": "logout",
                               "auth.me": "getMe", "auth.profile": "updateProfile", "health": "getHealth"]

    /// The contract's operation id.
    public var operationID: String { Self.names[operation] ?? operation }
}

/// Who a collection's records belong to.
public enum Ownership: String, Sendable {
    /// Each record belongs to the user who created it; nobody else sees it.
    case user
    /// Every signed-in user reads every record; admins write.
    case shared
    /// Each record belongs to a team (`team_id`, given at create); its members see and write it. `owner_id` is the
    /// member who created it.
    case team
}

/// One collection: a table, its REST routes, its validation.
public struct CollectionSpec: Sendable {
    public let name: String
    /// Under the app's prefix, e.g. `/exercises`.
    public let path: String
    public let owner: Ownership

    /// Whether records show this column: the owner on user- and team-owned records, the team on team-owned ones.
    public func showsSystemField(_ field: SystemField) -> Bool {
        switch field {
        case .id, .createdAt, .updatedAt: true
        case .ownerID: owner != .shared
        case .teamID: owner == .team
        }
    }
    /// The record schema as declared (JSON Schema), used to validate bodies and to describe the collection in the
    /// served contract.
    public let schema: JSONValue
    /// Sorted by name.
    public let fields: [Field]
    /// Fields `?q=` searches, case-insensitively.
    public let search: [String]
    public let indexes: [[String]]
    /// A JSON file of records, relative to the blueprint directory; loaded once per record key.
    public let seed: String?
    /// The tier feature a caller's plan must include to use this collection, if any.
    public let feature: String?
    /// Rules, in the filter language, by operation: a failed list rule filters, a failed view, update or delete rule
    /// answers 404, a failed create rule 403.
    public let rules: [Rule: String]
    /// Operations served at the app's own method and path as well (under the prefix).
    public let aliases: [RouteAlias]
    /// Fields that hold the id of a record of another collection.
    public let relations: [Relation]
    /// What happens, in the same transaction, after a record is created, updated or deleted.
    public let hooks: [HookEvent: [HookAction]]
    /// The SQL table: `app_<app>_<collection>`.
    public let table: String
    /// The list's own query parameters (`query: {muscle_group: "muscle_group = @query"}`), in file order.
    public var queryFilters: [QueryFilter] = []

    public func field(_ name: String) -> Field? {
        fields.first { $0.name == name }
    }
}

/// A query parameter of a collection's list, in the app's own name: given, its filter holds for every record listed
/// (`@query` being the parameter's value), or it is another name for `q`, the case-insensitive search.
public struct QueryFilter: Sendable {
    public let name: String
    /// Nil: the parameter is `q`'s other name.
    public let filter: String?
}

/// A top-level field of a collection: one column.
public struct Field: Sendable {
    /// How the value is stored.
    public enum Kind: String, Sendable {
        case text, integer, number, boolean
        /// Objects, arrays and mixed types: JSON text.
        case json
    }

    public let name: String
    public let kind: Kind
    public let schema: JSONValue
    public let nullable: Bool
    public let required: Bool
    public let defaultValue: JSONValue?
    /// Set by the server (hooks) only: a body that names it is refused.
    public let readonly: Bool
    /// Set at creation only.
    public let immutable: Bool
    /// Stored but never returned.
    public let hidden: Bool
    /// Who may see the field (a rule over the record and the caller); others get the record without it.
    public let readRule: String?
    /// Who may set the field (a rule over the record, the body and the caller); others get 403.
    public let writeRule: String?
    /// `date-time` text is stored normalized (UTC, milliseconds), so that text order is time order.
    public var isDateTime: Bool { kind == .text && schema["format"]?.stringValue == "date-time" }
}

/// The columns every collection table has besides its fields.
public enum SystemField: String, CaseIterable, Sendable {
    case id
    case ownerID = "owner_id"
    case teamID = "team_id"
    case createdAt = "created_at"
    case updatedAt = "updated_at"
}
