import ArgumentParser
import App
import Core
import Foundation

/// `switchboard storage gc`: client storage's garbage collector.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "storage", abstract: "Client-encrypted storage tools.", subcommands: [GC.self])

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove what interrupted writes left: objects no record or backup names, staged uploads, backups whose bytes never landed.",
            discussion: "Only what is older than the grace period is touched, so uploads under way are left alone; servers may keep serving.")
        @OptionGroup var config: ConfigFlags
        @Option(help: "Leave alone what is younger than this, in seconds (60...604800).") var graceSeconds = 3_600

        func run() async throws {
            guard (60...604_800).contains(graceSeconds) else { throw ValidationError("--grace-seconds must be 60...604800") }
            let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
            let collected = try await reportingStartupErrors {
                try await StorageGC.run(settings: settings, logger: logger, grace: TimeInterval(graceSeconds))
            }
            print("removed \(collected.objects) orphaned objects, \(collected.staged) staged uploads and \(collected.backups) backups without bytes")
        }
    }
}
