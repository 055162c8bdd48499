import API
import App
import ArgumentParser
import Core
import Foundation
import Logging
import Storage
import Vault

@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Switchboard: the self-hosted backend for AI applications.",
        discussion: """
            Configuration keys (see README) can be given as flags after the subcommand, e.g.
            `switchboard serve --http-port 9000 --auth-bcrypt-cost 10`, as environment variables (HTTP_PORT) or in .env.
            """,
        version: App.Switchboard.version,
        subcommands: [Serve.self, Migrate.self, OpenAPI.self, Users.self, ApiKeysCommand.self, Keys.self, BlueprintCommand.self, MemoryCommand.self, StorageCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// Configuration flags a subcommand does not declare itself are configuration keys.
struct ConfigFlags: ParsableArguments {
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var arguments: [String] = []

    /// The settings; `serve --blueprint DIR` says the same as `--blueprint-dir DIR`.
    func settings(blueprint: String? = nil) async throws -> (Settings, Logger) {
        let reader = try await Settings.reader(arguments: arguments + (blueprint.map { ["--blueprint-dir", $0] } ?? []))
        let settings = try Settings(reader: reader)
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        // Lines are written in batches: whatever way the process ends, what was logged goes out first.
        atexit { JSONLogHandler.flush() }
        return (settings, Logger(label: "switchboard"))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the API server (migrates the database first).")
    @Option(help: "Serve this blueprint directory too (the configuration key blueprint.dir).") var blueprint: String?
    @OptionGroup var config: ConfigFlags

    func run() async throws {
        let (settings, logger) = try await reportingStartupErrors { try await config.settings(blueprint: blueprint) }
        let server = try await reportingStartupErrors { try await App.Switchboard.build(settings: settings, logger: logger) }
        try await server.run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var config: ConfigFlags

    func run() async throws {
        let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        let migrator = Migrator(database: database, migrations: Schema.migrations, logger: logger)
        do {
            let applied = try await migrator.migrate()
            let current = try await migrator.appliedVersions().last ?? 0
            print(applied.isEmpty ? "schema is current (version \(current))" : "applied \(applied.map(String.init).joined(separator: ", ")); schema version \(current)")
        } catch {
            try? await database.close()
            FileHandle.standardError.write(Data("switchboard: cannot migrate the \(database.engine.rawValue) database: \(String(reflecting: error))\n".utf8))
            throw ExitCode(1)
        }
        try await database.close()
    }
}

struct OpenAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the OpenAPI contract (YAML).")

    func run() async throws {
        print(Contract.yaml(), terminator: "")
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage users.", subcommands: [Create.self, SetTier.self, GrantAdmin.self, RevokeAdmin.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user (admin).",
            discussion: "Without --password-stdin a random password is generated and printed once."
        )
        @Option(help: "The user's email.") var email: String
        @Option(help: "The tier (free, pro, power, team by default).") var tier: String?
        @Option(help: "Display name.") var name: String?
        @Flag(help: "Read the password from standard input (so it stays out of shell history).") var passwordStdin = false
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
            let generated = passwordStdin ? nil : UUID.random().lowercased
            guard let password = generated ?? readLine(strippingNewline: true) else {
                throw ValidationError("no password on standard input")
            }
            let server = try await reportingStartupErrors { try await App.Switchboard.build(settings: settings, logger: logger) }
            do {
                let user = try await server.accounts.createUser(email: email, password: password, name: name, tier: tier ?? settings.accounts.defaultTier)
                print("created user \(user.id.lowercased) <\(user.email ?? "")> on tier \(user.tier)")
                if let generated { print("password: \(generated)") }
            } catch let error as AppError {
                try? await server.database.close()
                let fields = error.fieldErrors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
                throw ValidationError([error.detail ?? error.code, fields].filter { !$0.isEmpty }.joined(separator: " "))
            }
            try await server.database.close()
        }
    }
}

extension Users {
    struct SetTier: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-tier", abstract: "Move a user to another tier (for support and tests); it applies from their next request.")
        @Option(help: "The user's email.") var email: String
        @Option(help: "The tier (free, pro, power, team by default).") var tier: String
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
            let server = try await reportingStartupErrors { try await App.Switchboard.build(settings: settings, logger: logger) }
            let found: Bool
            do {
                found = try await server.accounts.setTier(email: email, tier: tier)
            } catch let error as AppError {
                try? await server.database.close()
                throw ValidationError(error.fieldErrors.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            }
            try await server.database.close()
            guard found else { throw ValidationError("no user has the email \(email)") }
            print("\(email) is now on tier \(tier)")
        }
    }

    struct GrantAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant-admin", abstract: "Make a user an administrator (writes shared blueprint collections).")
        @Option(help: "The user's email.") var email: String
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            try await setRole(email: email, admin: true, config: config)
        }
    }

    struct RevokeAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-admin", abstract: "Take a user's administrator role away.")
        @Option(help: "The user's email.") var email: String
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            try await setRole(email: email, admin: false, config: config)
        }
    }

    static func setRole(email: String, admin: Bool, config: ConfigFlags) async throws {
        let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
        let server = try await reportingStartupErrors { try await App.Switchboard.build(settings: settings, logger: logger) }
        let found = try await server.accounts.setAdmin(email: email, admin)
        try await server.database.close()
        guard found else { throw ValidationError("no user has the email \(email)") }
        print(admin ? "\(email) is now an administrator" : "\(email) is no longer an administrator")
    }
}

/// API keys for service accounts, made by an admin on the command line.
struct ApiKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api-keys", abstract: "Manage API keys.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key for a user (a service account, say); prints it once.")
        @Option(help: "The user's email.") var email: String
        @Option(help: "A name for the key.") var name: String
        @Option(help: "Comma-separated scopes: \(ApiKeys.scopes.joined(separator: ", ")).") var scopes: String
        @Option(help: "Days until it expires (default: never).") var expiresDays: Int?
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
            let server = try await reportingStartupErrors { try await App.Switchboard.build(settings: settings, logger: logger) }
            do {
                guard let user = try await server.accounts.user(email: email) else { throw ValidationError("no user has the email \(email)") }
                let expires = expiresDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
                let (key, token) = try await server.accounts.apiKeys.create(userID: user.id, name: name,
                                                                            scopes: scopes.split(separator: ",").map(String.init), expiresAt: expires)
                print("created API key \(key.id.lowercased) for <\(user.email ?? "")> with scopes \(key.scopes.joined(separator: ","))")
                print("key: \(token)")
                await server.close()
            } catch {
                await server.close()
                if let error = error as? AppError {
                    FileHandle.standardError.write(Data("switchboard: \(error.detail ?? error.title) \(error.fieldErrors.map { "\($0.field): \($0.message)" }.joined(separator: "; "))\n".utf8))
                    throw ExitCode(1)
                }
                throw error
            }
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage the vault's keys.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new master key active and re-wrap every secret's data key under it.",
            discussion: """
                With the keyring file (the default) a new key is added and made active; older keys are kept, so every \
                secret stays readable, also by servers started before the rotation. With vault.master_key or KMS and \
                several servers: first add the new key to vault.previous_master_keys (or vault.previous_kms_keys) \
                everywhere, then make it the active key with the old one in the previous list, then run this to move \
                every secret under it. Secrets are never decrypted: only their data keys are re-wrapped.
                """)
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
            let outcome = try await reportingStartupErrors { try await KeyRotation.run(settings: settings, logger: logger) }
            print("\(outcome.newKey ? "new active key" : "active key") \(outcome.activeKeyID); re-wrapped \(outcome.rewrapped) secrets")
        }
    }
}

/// Mistakes in configuration (exit 2) and failures to start (database unreachable, unreadable key: exit 1) are
/// reported as one plain line, not as a crash.
func reportingStartupErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch where error is SettingsError || error is StartupError || error is SigningKeyError || error is VaultError {
        FileHandle.standardError.write(Data("switchboard: \(error)\n".utf8))
        throw ExitCode(error is SettingsError ? 2 : 1)
    }
}
