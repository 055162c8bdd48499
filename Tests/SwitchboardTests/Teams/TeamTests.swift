import App
import Core
import Foundation
import HTTPTypes
import Testing

@Suite("Teams: members, roles, invitations")
struct TeamTests {
    @Test("A team's life: create, list, rename, invite by email, accept, members, roles, leave, delete")
    func lifecycle() async throws {
        try await TestApp.run { app in
            let owner = try await app.signup()
            let invitee = try await app.signup()
            let created = try await app.request(.post, "/api/v1/teams", json: ["name": "  Growth  "], token: owner.access)
            #expect(created.status == 201, "\(created.text)")
            let team = try #require(created["id"] as? String)
            #expect(created["name"] as? String == "Growth", "names are trimmed")
            #expect(created["role"] as? String == "owner")
            #expect(created["member_count"] as? Int == 1)

            let invited = try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": invitee.email.uppercased()],
                                                token: owner.access)
            #expect(invited.status == 201, "\(invited.text)")
            #expect(invited["email"] as? String == invitee.email, "addresses are compared lowercased")
            #expect(invited["role"] as? String == "member")
            #expect(invited["team_name"] as? String == "Growth")
            let invitation = try #require(invited["id"] as? String)
            let again = try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": invitee.email], token: owner.access)
            #expect(again.status == 409 && again.code == "already_invited")
            let ownInvite = try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": owner.email], token: owner.access)
            #expect(ownInvite.status == 409 && ownInvite.code == "already_member")

            let mine = try await app.request(.get, "/api/v1/invitations", token: invitee.access)
            #expect(mine["total"] as? Int == 1)
            #expect(((mine["items"] as? [[String: Any]])?.first?["id"] as? String) == invitation)
            #expect(try await app.request(.get, "/api/v1/invitations", token: owner.access)["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/teams/\(team)", token: invitee.access).status == 404, "not a member yet")

            let accepted = try await app.request(.post, "/api/v1/invitations/\(invitation)/accept", token: invitee.access)
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(accepted["role"] as? String == "member")
            #expect(accepted["member_count"] as? Int == 2)
            #expect(try await app.request(.post, "/api/v1/invitations/\(invitation)/accept", token: invitee.access).status == 404,
                    "an invitation is used once")

            let members = try await app.request(.get, "/api/v1/teams/\(team)/members", token: invitee.access)
            #expect(members["total"] as? Int == 2)
            let roles = Dictionary(uniqueKeysWithValues: ((members["items"] as? [[String: Any]]) ?? []).map {
                ($0["user_id"] as? String ?? "", $0["role"] as? String ?? "")
            })
            #expect(roles == [owner.userID: "owner", invitee.userID: "member"])

            let listed = try await app.request(.get, "/api/v1/teams", token: invitee.access)
            #expect(listed["total"] as? Int == 1)
            #expect(try await app.request(.patch, "/api/v1/teams/\(team)", json: ["name": "Mine now"], token: invitee.access).code
                    == "team_role_required", "members do not rename")
            let renamed = try await app.request(.patch, "/api/v1/teams/\(team)", json: ["name": "Growth team"], token: owner.access)
            #expect(renamed.status == 200 && renamed["name"] as? String == "Growth team")

            let promoted = try await app.request(.patch, "/api/v1/teams/\(team)/members/\(invitee.userID)", json: ["role": "admin"], token: owner.access)
            #expect(promoted.status == 200 && promoted["role"] as? String == "admin", "\(promoted.text)")
            let renamedByAdmin = try await app.request(.patch, "/api/v1/teams/\(team)", json: ["name": "Growth"], token: invitee.access)
            #expect(renamedByAdmin.status == 200, "admins rename")
            let coup = try await app.request(.patch, "/api/v1/teams/\(team)/members/\(owner.userID)", json: ["role": "member"], token: invitee.access)
            #expect(coup.status == 403 && coup.code == "team_role_required", "admins do not demote owners")
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)", token: invitee.access).code == "team_role_required")

            let lastOwner = try await app.request(.delete, "/api/v1/teams/\(team)/members/\(owner.userID)", token: owner.access)
            #expect(lastOwner.status == 409 && lastOwner.code == "last_owner")
            let demoteSelf = try await app.request(.patch, "/api/v1/teams/\(team)/members/\(owner.userID)", json: ["role": "admin"], token: owner.access)
            #expect(demoteSelf.status == 409 && demoteSelf.code == "last_owner")

            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(invitee.userID)", token: invitee.access).status == 204, "anyone may leave")
            #expect(try await app.request(.get, "/api/v1/teams/\(team)", token: invitee.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)", token: owner.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/teams/\(team)", token: owner.access).status == 404)
            #expect(try await app.server.database.first("SELECT COUNT(*) AS n FROM team_members")?.decode(column: "n", as: Int64.self) == 0)
        }
    }

    @Test("Isolation: every team route answers 404 to a user who is not a member, whatever the id")
    func isolation() async throws {
        try await TestApp.run { app in
            let owner = try await app.signup()
            let outsider = try await app.signup()
            let team = try #require(try await app.request(.post, "/api/v1/teams", json: ["name": "Private"], token: owner.access)["id"] as? String)
            let invitation = try #require(try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": "someone@example.com"],
                                                                token: owner.access)["id"] as? String)
            let routes: [(HTTPRequest.Method, String, [String: Any]?)] = [
                (.get, "/api/v1/teams/\(team)", nil), (.patch, "/api/v1/teams/\(team)", ["name": "Taken"]), (.delete, "/api/v1/teams/\(team)", nil),
                (.get, "/api/v1/teams/\(team)/members", nil),
                (.patch, "/api/v1/teams/\(team)/members/\(owner.userID)", ["role": "member"]),
                (.delete, "/api/v1/teams/\(team)/members/\(owner.userID)", nil),
                (.get, "/api/v1/teams/\(team)/invitations", nil),
                (.post, "/api/v1/teams/\(team)/invitations", ["email": outsider.email]),
                (.delete, "/api/v1/teams/\(team)/invitations/\(invitation)", nil),
                (.post, "/api/v1/invitations/\(invitation)/accept", nil), (.post, "/api/v1/invitations/\(invitation)/decline", nil),
            ]
            for (method, path, body) in routes {
                let reply = try await app.request(method, path, json: body, token: outsider.access)
                #expect(reply.status == 404, "\(method) \(path) answered \(reply.status) to an outsider")
            }
            #expect(try await app.request(.get, "/api/v1/teams", token: outsider.access)["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/teams/\(team)/members", token: owner.access)["total"] as? Int == 1, "nothing changed")
            #expect(try await app.request(.get, "/api/v1/teams/\(team)/invitations", token: owner.access)["total"] as? Int == 1)
        }
    }

    @Test("Invitations: only the addressee accepts, decline and withdraw remove them, they expire after 7 days, admins invite")
    func invitations() async throws {
        try await TestApp.run { app in
            var owner = try await app.signup()
            var admin = try await app.signup()
            var member = try await app.signup()
            let team = try #require(try await app.request(.post, "/api/v1/teams", json: ["name": "Ops"], token: owner.access)["id"] as? String)
            func invite(_ email: String, role: String = "member", by token: String) async throws -> Reply {
                try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": email, "role": role], token: token)
            }
            func join(_ user: Tokens, role: String, owner: Tokens) async throws {
                let id = try #require(try await invite(user.email, role: role, by: owner.access)["id"] as? String)
                try #require(try await app.request(.post, "/api/v1/invitations/\(id)/accept", token: user.access).status == 200)
            }
            try await join(admin, role: "admin", owner: owner)
            try await join(member, role: "member", owner: owner)

            #expect(try await invite("owner@example.com", role: "owner", by: owner.access).fieldErrors["role"] != nil, "owners are made, not invited")
            #expect(try await invite("empty@example.com", role: "", by: owner.access).fieldErrors["role"] != nil, "an empty role is not a role")
            #expect(try await invite("x@example.com", by: member.access).code == "team_role_required", "members do not invite")
            #expect(try await app.request(.get, "/api/v1/teams/\(team)/invitations", token: member.access).code == "team_role_required")
            #expect(try await invite("not an address", by: owner.access).status == 400)
            let defaulted = try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": "null@example.com", "role": NSNull()],
                                                  token: owner.access)
            #expect(defaulted.status == 201 && defaulted["role"] as? String == "member", "a null role is the default: \(defaulted.text)")

            var late = try await app.signup()
            let declined = try #require(try await invite(late.email, by: admin.access)["id"] as? String, "admins invite")
            #expect(try await app.request(.post, "/api/v1/invitations/\(declined)/accept", token: member.access).status == 404,
                    "an invitation is for its addressee only")
            #expect(try await app.request(.post, "/api/v1/invitations/\(declined)/decline", token: late.access).status == 204)
            #expect(try await app.request(.post, "/api/v1/invitations/\(declined)/accept", token: late.access).status == 404)

            let withdrawn = try #require(try await invite(late.email, by: owner.access)["id"] as? String, "declined: can be invited again")
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/invitations/\(withdrawn)", token: admin.access).status == 204)
            #expect(try await app.request(.post, "/api/v1/invitations/\(withdrawn)/accept", token: late.access).status == 404)

            let expiring = try #require(try await invite(late.email, by: owner.access)["id"] as? String)
            app.clock.advance(seconds: 7 * 86_400 + 1)
            // A week on, access tokens have expired too: everyone signs in again.
            (owner, admin, member, late) = (try await app.relogin(owner), try await app.relogin(admin), try await app.relogin(member),
                                            try await app.relogin(late))
            #expect(try await app.request(.get, "/api/v1/invitations", token: late.access)["total"] as? Int == 0)
            #expect(try await app.request(.post, "/api/v1/invitations/\(expiring)/accept", token: late.access).status == 404)
            #expect(try await invite(late.email, by: owner.access).status == 201, "an expired invitation no longer blocks a new one")

            // Admins remove members but not admins or owners; owners remove anyone.
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(member.userID)", token: admin.access).status == 204)
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(owner.userID)", token: admin.access).code == "team_role_required")
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(admin.userID)", token: owner.access).status == 204)
            // Two owners: one may step down.
            let successor = try await app.signup()
            try await join(successor, role: "member", owner: owner)
            #expect(try await app.request(.patch, "/api/v1/teams/\(team)/members/\(successor.userID)", json: ["role": "owner"],
                                          token: owner.access)["role"] as? String == "owner")
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(owner.userID)", token: owner.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/teams/\(team)", token: successor.access)["member_count"] as? Int == 1)
        }
    }

    @Test("Bad input: names are checked, ids that are not UUIDs are 404, API keys need teams:read or teams:write")
    func input() async throws {
        try await TestApp.run { app in
            let user = try await app.signup()
            for name in ["", "   ", String(repeating: "x", count: 101), "tab\there"] {
                let reply = try await app.request(.post, "/api/v1/teams", json: ["name": name], token: user.access)
                #expect(reply.status == 400, "name \(name.debugDescription) answered \(reply.status)")
            }
            #expect(try await app.request(.get, "/api/v1/teams/not-a-uuid", token: user.access).status < 500)
            #expect(try await app.request(.post, "/api/v1/invitations/\(UUID().uuidString)/accept", token: user.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/teams?per_page=1000", token: user.access).status == 400)

            let key = try await app.request(.post, "/api/v1/api-keys", json: ["name": "reader", "scopes": ["teams:read"]], token: user.access)
            let token = try #require(key["key"] as? String, "\(key.text)")
            #expect(try await app.request(.get, "/api/v1/teams", token: token).status == 200)
            let write = try await app.request(.post, "/api/v1/teams", json: ["name": "By key"], token: token)
            #expect(write.status == 403, "a read-only key cannot create teams")
            #expect(try await app.request(.get, "/api/v1/teams", token: user.access)["total"] as? Int == 0)
        }
    }
}

extension TestApp {
    /// Signs the user in again (after the clock moved past their tokens).
    func relogin(_ user: Tokens) async throws -> Tokens {
        let reply = try await login(user.email)
        try #require(reply.status == 200, "login failed: \(reply.text)")
        return Tokens(reply)
    }
}
