import API
import Core
import Foundation
import Storage

extension APIHandler {
    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, version: Switchboard.version))))
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
