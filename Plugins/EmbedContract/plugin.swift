import Foundation
import PackagePlugin

/// Embeds the target's `openapi.yaml` in the module as a string (`Contract.embeddedYAML`), so that the built binary
/// serves its contract without a resource bundle beside it: one file to copy.
@main
struct EmbedContract: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget,
              let spec = target.sourceFiles.first(where: { $0.url.lastPathComponent == "openapi.yaml" })?.url else { return [] }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedContract.swift")
        // A raw string literal: the YAML must not contain `"""#`, which no OpenAPI document needs.
        let script = ##"{ printf 'extension Contract {\n    static let embeddedYAML = #"""\n'; cat "$1"; printf '\n"""#\n}\n'; } > "$2""##
        return [.buildCommand(
            displayName: "Embedding openapi.yaml",
            executable: URL(filePath: "/bin/sh"),
            arguments: ["-c", script, "sh", spec.path(), output.path()],
            inputFiles: [spec],
            outputFiles: [output]
        )]
    }
}
