import API
import Core
import Foundation

/// Teams, members and invitations: the handlers only translate; `Teams` decides who may do what.
extension APIHandler {
    func listTeams(_ input: Operations.ListTeams.Input) async throws -> Operations.ListTeams.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await teams.list(userID: identity.user.id, page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(items: page.items.map(Components.Schemas.Team.init), total: page.total, page: page.page,
                                           perPage: page.perPage))))
    }

    func createTeam(_ input: Operations.CreateTeam.Input) async throws -> Operations.CreateTeam.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        return .created(.init(body: .json(.init(try await teams.create(name: body.name, userID: identity.user.id)))))
    }

    func getTeam(_ input: Operations.GetTeam.Input) async throws -> Operations.GetTeam.Output {
        let identity = try RequestScope.requireIdentity()
        return .ok(.init(body: .json(.init(try await teams.get(try pathID(input.path.id, "team"), userID: identity.user.id)))))
    }

    func renameTeam(_ input: Operations.RenameTeam.Input) async throws -> Operations.RenameTeam.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        return .ok(.init(body: .json(.init(try await teams.rename(try pathID(input.path.id, "team"), name: body.name, userID: identity.user.id)))))
    }

    func deleteTeam(_ input: Operations.DeleteTeam.Input) async throws -> Operations.DeleteTeam.Output {
        let identity = try RequestScope.requireIdentity()
        try await teams.delete(try pathID(input.path.id, "team"), userID: identity.user.id)
        return .noContent(.init())
    }

    func listTeamMembers(_ input: Operations.ListTeamMembers.Input) async throws -> Operations.ListTeamMembers.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await teams.members(try pathID(input.path.id, "team"), userID: identity.user.id,
                                           page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(items: page.items.map(Components.Schemas.TeamMember.init), total: page.total, page: page.page,
                                           perPage: page.perPage))))
    }

    func updateTeamMember(_ input: Operations.UpdateTeamMember.Input) async throws -> Operations.UpdateTeamMember.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        let member = try await teams.setRole(try pathID(input.path.id, "team"), member: try pathID(input.path.userId, "member"), to: TeamRole(body.role),
                                             userID: identity.user.id)
        return .ok(.init(body: .json(.init(member))))
    }

    func removeTeamMember(_ input: Operations.RemoveTeamMember.Input) async throws -> Operations.RemoveTeamMember.Output {
        let identity = try RequestScope.requireIdentity()
        try await teams.remove(try pathID(input.path.id, "team"), member: try pathID(input.path.userId, "member"), userID: identity.user.id)
        return .noContent(.init())
    }

    func listTeamInvitations(_ input: Operations.ListTeamInvitations.Input) async throws -> Operations.ListTeamInvitations.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await teams.invitations(try pathID(input.path.id, "team"), userID: identity.user.id,
                                               page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(page))))
    }

    func createInvitation(_ input: Operations.CreateInvitation.Input) async throws -> Operations.CreateInvitation.Output {
        let identity = try RequestScope.requireIdentity()
        guard case .json(let body) = input.body else { throw AppError.badRequest("Expected a JSON body.") }
        // The generated enum has a case for "" (it stands for null in the contract's enum): not a role.
        if body.role == ._empty_ {
            throw AppError.validation([FieldError(field: "role", code: "invalid_value", message: "must be admin or member")])
        }
        let invitation = try await teams.invite(try pathID(input.path.id, "team"), email: body.email, role: body.role == .admin ? .admin : .member,
                                                userID: identity.user.id)
        return .created(.init(body: .json(.init(invitation))))
    }

    func revokeInvitation(_ input: Operations.RevokeInvitation.Input) async throws -> Operations.RevokeInvitation.Output {
        let identity = try RequestScope.requireIdentity()
        let invitation = try pathID(input.path.invitationId, "invitation")
        try await teams.revoke(try pathID(input.path.id, "team"), invitation: invitation, userID: identity.user.id)
        return .noContent(.init())
    }

    func listMyInvitations(_ input: Operations.ListMyInvitations.Input) async throws -> Operations.ListMyInvitations.Output {
        let identity = try RequestScope.requireIdentity()
        let page = try await teams.invitations(for: identity.user.email, page: PageRequest(page: input.query.page, perPage: input.query.perPage))
        return .ok(.init(body: .json(.init(page))))
    }

    func acceptInvitation(_ input: Operations.AcceptInvitation.Input) async throws -> Operations.AcceptInvitation.Output {
        let identity = try RequestScope.requireIdentity()
        let invitation = try pathID(input.path.invitationId, "invitation")
        return .ok(.init(body: .json(.init(try await teams.accept(invitation, user: identity.user)))))
    }

    func declineInvitation(_ input: Operations.DeclineInvitation.Input) async throws -> Operations.DeclineInvitation.Output {
        let identity = try RequestScope.requireIdentity()
        let invitation = try pathID(input.path.invitationId, "invitation")
        try await teams.decline(invitation, user: identity.user)
        return .noContent(.init())
    }
}

extension TeamRole {
    init(_ role: Components.Schemas.TeamRole) {
        switch role {
        case .owner: self = .owner
        case .admin: self = .admin
        case .member: self = .member
        }
    }
}

extension Components.Schemas.TeamRole {
    init(_ role: TeamRole) {
        switch role {
        case .owner: self = .owner
        case .admin: self = .admin
        case .member: self = .member
        }
    }
}

extension Components.Schemas.Team {
    init(_ team: Team) {
        self.init(id: team.id.lowercased, name: team.name, role: .init(team.role), memberCount: team.memberCount, createdAt: team.createdAt,
                  updatedAt: team.updatedAt)
    }
}

extension Components.Schemas.TeamMember {
    init(_ member: Core.TeamMember) {
        self.init(userId: member.userID.lowercased, email: member.email, name: member.name, role: .init(member.role), joinedAt: member.joinedAt)
    }
}

extension Components.Schemas.Invitation {
    init(_ invitation: TeamInvitation) {
        self.init(id: invitation.id.lowercased, teamId: invitation.teamID.lowercased, teamName: invitation.teamName, email: invitation.email,
                  role: invitation.role == .admin ? .admin : .member, invitedBy: invitation.invitedBy?.lowercased,
                  createdAt: invitation.createdAt, expiresAt: invitation.expiresAt)
    }
}

extension Components.Schemas.InvitationList {
    init(_ page: Page<TeamInvitation>) {
        self.init(items: page.items.map(Components.Schemas.Invitation.init), total: page.total, page: page.page, perPage: page.perPage)
    }
}
