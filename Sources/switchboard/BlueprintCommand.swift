import App
import ArgumentParser
import Blueprints
import Core
import Foundation
import Logging
import Storage

/// `switchboard blueprint check|plan|apply DIR`: schema as code, with the database change reviewed before it is made.
struct BlueprintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blueprint", abstract: "Check a blueprint, plan its database changes, or apply them.",
        subcommands: [Check.self, Plan.self, Apply.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate blueprint.yaml; every problem is printed with its line.")
        @Argument(help: "The blueprint directory.") var directory: String

        func run() async throws {
            let blueprint = try BlueprintCommand.loaded(directory)
            try Switchboard.checkContract(blueprint)
            print("\(directory): app \(blueprint.name) with \(blueprint.collections.count) collections and \(blueprint.agents.count) agents and \(blueprint.chatRoutes.count) chat routes is valid")
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the statements the database needs; destructive ones are listed apart and never run by serve.")
        @Argument(help: "The blueprint directory.") var directory: String
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            let blueprint = try BlueprintCommand.loaded(directory)
            try await BlueprintCommand.withDatabase(config) { database, _ in
                print(try await CollectionSchema.plan(blueprint, db: database).description)
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply the blueprint's database changes and load its seeds.")
        @Argument(help: "The blueprint directory.") var directory: String
        @Flag(help: "Also drop the columns and tables the blueprint no longer has (their data is lost).") var allowDestructive = false
        @OptionGroup var config: ConfigFlags

        func run() async throws {
            let blueprint = try BlueprintCommand.loaded(directory)
            try await BlueprintCommand.withDatabase(config) { database, logger in
                try await Migrator(database: database, migrations: Schema.migrations, logger: logger).migrate()
                let plan = try await CollectionSchema.apply(blueprint, db: database, allowDestructive: allowDestructive, logger: logger)
                print(plan.isEmpty ? "nothing to change" : plan.description)
            }
        }
    }

    /// Runs `body` with the configured database, closed afterwards whatever happens; a blueprint's problems go to
    /// standard error with exit code 1.
    static func withDatabase(_ config: ConfigFlags, _ body: (any Database, Logger) async throws -> Void) async throws {
        let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        do {
            try await body(database, logger)
        } catch let error as BlueprintError {
            try? await database.close()
            FileHandle.standardError.write(Data("switchboard: \(error)\n".utf8))
            throw ExitCode(1)
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }

    /// The blueprint, or its problems on standard error and exit code 1.
    static func loaded(_ directory: String) throws -> Blueprint {
        do {
            return try BlueprintLoader.load(directory: directory)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
