import API
import Connectors
import Core
import Foundation
import LLM
import OpenAPIRuntime

extension APIHandler {
    func listIntegrations(_ input: Operations.ListIntegrations.Input) async throws -> Operations.ListIntegrations.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await integrations.list(userID: identity.user.id, page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(items: page.items.map(Components.Schemas.Integration.init), total: page.total,
                                           page: page.page, perPage: page.perPage))))
    }

    func createIntegration(_ input: Operations.CreateIntegration.Input) async throws -> Operations.CreateIntegration.Output {
        let identity = try RequestScope.requireIdentity()
        let integration: Integration
        switch input.body {
        case .json(let body):
            integration = try await integrations.create(userID: identity.user.id, kind: body.kind, name: body.name,
                                                        credentials: body.credentials.value.map { .json(JSONValue(any: $0)) },
                                                        provider: body.provider)
        case .multipartForm(let parts):
            var kind = IntegrationKind.googleServiceAccount.rawValue
            var name: String?, provider: String?, file: String?
            do {
                for try await part in parts {
                    switch part {
                    case .file(let upload):
                        var bytes: [UInt8] = []
                        for try await chunk in upload.payload.body {
                            bytes += chunk
                            guard bytes.count <= Integrations.maxCredentialBytes else { throw AppError.validation([Integrations.tooLarge]) }
                        }
                        file = String(decoding: bytes, as: UTF8.self)
                    case .name(let field): name = try await Self.text(field.payload.body, field: "name", upTo: 4096)
                    case .kind(let field): kind = try await Self.text(field.payload.body, field: "kind", upTo: 100)
                    case .provider(let field): provider = try await Self.text(field.payload.body, field: "provider", upTo: 100)
                    case .undocumented(let other): _ = try await [UInt8](collecting: other.body, upTo: 1 << 20)
                    }
                }
            } catch let error as AppError {
                throw error
            } catch {
                // The parts could not be read: not multipart/form-data as sent, a part over its size, a missing boundary.
                throw AppError.validation([FieldError(field: "body", code: "malformed_multipart",
                                                      message: "must be multipart/form-data with the parts kind, name, provider and file")])
            }
            integration = try await integrations.create(userID: identity.user.id, kind: kind, name: name,
                                                        credentials: file.map { .text($0) }, provider: provider)
        }
        return .created(.init(body: .json(.init(integration))))
    }

    func getIntegration(_ input: Operations.GetIntegration.Input) async throws -> Operations.GetIntegration.Output {
        let identity = try RequestScope.requireIdentity()
        return .ok(.init(body: .json(.init(try await integrations.get(try pathID(input.path.id, "integration"), userID: identity.user.id)))))
    }

    func deleteIntegration(_ input: Operations.DeleteIntegration.Input) async throws -> Operations.DeleteIntegration.Output {
        let identity = try RequestScope.requireIdentity()
        try await integrations.delete(try pathID(input.path.id, "integration"), userID: identity.user.id)
        return .noContent(.init())
    }

    func validateIntegration(_ input: Operations.ValidateIntegration.Input) async throws -> Operations.ValidateIntegration.Output {
        let identity = try RequestScope.requireIdentity()
        let result = try await validator.validate(try pathID(input.path.id, "integration"), userID: identity.user.id)
        return .ok(.init(body: .json(.init(valid: result.valid == true,
                                           status: result.valid.map { $0 ? .valid : .invalid } ?? .unchecked,
                                           checks: result.checks.map { .init(name: $0.name, ok: $0.ok, detail: $0.detail) }))))
    }

    /// A text part of a multipart body, up to `limit` bytes: a larger one is a field error naming the part.
    private static func text(_ body: HTTPBody, field: String, upTo limit: Int) async throws -> String {
        let bytes: [UInt8]
        do {
            bytes = try await [UInt8](collecting: body, upTo: limit)
        } catch {
            throw AppError.validation([FieldError(field: field, code: "too_long", message: "must be at most \(limit) bytes")])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Components.Schemas.Integration {
    init(_ integration: Integration) {
        let kind: KindPayload = integration.kind == .googleServiceAccount ? .googleServiceAccount : .apiKey
        self.init(id: integration.id.lowercased, kind: kind, name: integration.name,
                  clientEmail: integration.metadata["client_email"]?.stringValue, projectId: integration.metadata["project_id"]?.stringValue,
                  privateKeyId: integration.metadata["private_key_id"]?.stringValue, provider: integration.metadata["provider"]?.stringValue,
                  createdAt: integration.createdAt)
    }
}
