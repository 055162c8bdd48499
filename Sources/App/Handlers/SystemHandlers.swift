import API
import Core
import Foundation
import Storage

extension APIHandler {
    func getRoot(_ input: Operations.GetRoot.Input) async throws -> Operations.GetRoot.Output {
        .ok(.init(body: .json(.init(name: app?.title ?? "Switchboard", version: Switchboard.version, docs: "/docs", openapi: "/openapi.json"))))
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, version: Switchboard.version))))
    }

    func getApp(_ input: Operations.GetApp.Input) async throws -> Operations.GetApp.Output {
        guard let app else { throw AppError(status: 404, code: "no_app", title: "Not found", detail: "This server serves no blueprint.") }
        let flags = Components.Schemas.AppInfo.FlagsPayload(
            additionalProperties: app.flags.filter { app.publicFlags.contains($0.key) })
        return .ok(.init(body: .json(.init(
            name: app.name, title: app.title, prefix: app.prefix, flags: flags,
            agents: app.agents.map { .init(name: $0.name, description: $0.description) }
                + orchestrator.flows.values.sorted { $0.name < $1.name }.map { .init(name: $0.name, description: $0.description) },
            collections: app.collections.map { collection in
                .init(name: collection.name, path: app.prefix + collection.path, owner: .init(rawValue: collection.owner.rawValue) ?? .user)
            }))))
    }

    func getReady(_ input: Operations.GetReady.Input) async throws -> Operations.GetReady.Output {
        do {
            try await database.run("SELECT 1")
        } catch {
            throw AppError(status: 503, code: "database_unavailable", title: "Service unavailable",
                           detail: "The database does not answer.", retryAfter: 5)
        }
        return .ok(.init(body: .json(.init(status: .ready, database: database.engine == .sqlite ? .sqlite : .postgres))))
    }

    func getJWKS(_ input: Operations.GetJWKS.Input) async throws -> Operations.GetJWKS.Output {
        let keys = accounts.tokens.jwks["keys", default: []].map { jwk in
            Components.Schemas.Jwk(kty: jwk["kty"] ?? "", crv: jwk["crv"], x: jwk["x"], kid: jwk["kid"] ?? "",
                                   alg: jwk["alg"], use: jwk["use"])
        }
        return .ok(.init(body: .json(.init(keys: keys))))
    }
}
