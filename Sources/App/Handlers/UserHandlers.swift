import API
import Core
import Foundation

extension APIHandler {
    func updateProfile(_ input: Operations.UpdateProfile.Input) async throws -> Operations.UpdateProfile.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let user = try await accounts.updateProfile(identity, name: body.name)
        return .ok(.init(body: .json(.init(user))))
    }

    func changePassword(_ input: Operations.ChangePassword.Input) async throws -> Operations.ChangePassword.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        try await accounts.changePassword(identity, current: body.currentPassword, new: body.newPassword)
        return .noContent(.init())
    }
}
