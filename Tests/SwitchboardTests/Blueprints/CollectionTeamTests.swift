import App
import Core
import Foundation
import HTTPTypes
import LLM
import Testing

/// Team-owned collections: a record belongs to the team named when it was created; its members see and write it,
/// everyone else gets 404, and leaving or deleting the team ends access at once.
@Suite("Blueprint collections: team ownership")
struct CollectionTeamTests {
    /// A team owned by `owner` with `members` joined through invitations; returns its id.
    static func team(_ app: TestApp, owner: Tokens, members: [Tokens] = []) async throws -> String {
        let team = try #require(try await app.request(.post, "/api/v1/teams", json: ["name": "Team"], token: owner.access)["id"] as? String)
        for member in members {
            let invitation = try #require(try await app.request(.post, "/api/v1/teams/\(team)/invitations", json: ["email": member.email],
                                                                token: owner.access)["id"] as? String)
            try #require(try await app.request(.post, "/api/v1/invitations/\(invitation)/accept", token: member.access).status == 200)
        }
        return team
    }

    @Test("Members see and write the team's records; outsiders get 404 on every route and nothing in lists or aggregates")
    func isolation() async throws {
        try await TestApp.withBlueprint { app in
            let owner = try await app.signup()
            let member = try await app.signup()
            let outsider = try await app.signup()
            let team = try await Self.team(app, owner: owner, members: [member])
            let otherTeam = try await Self.team(app, owner: outsider)

            let record = try await app.create("/projects", ["team_id": team.uppercased(), "name": "Launch"], token: member.access)
            let id = try #require(record["id"] as? String)
            #expect(record["team_id"] as? String == team, "the team, as the server writes ids")
            #expect(record["owner_id"] as? String == member.userID, "the member who created it")
            _ = try await app.create("/projects", ["team_id": otherTeam, "name": "Elsewhere"], token: outsider.access)

            #expect(try await app.request(.get, "/api/v1/projects/\(id)", token: owner.access)["name"] as? String == "Launch")
            let patched = try await app.request(.patch, "/api/v1/projects/\(id)", json: ["status": "archived"], token: owner.access)
            #expect(patched.status == 200 && patched["status"] as? String == "archived", "any member writes")
            let listed = try await app.request(.get, "/api/v1/projects", token: owner.access)
            #expect(listed["total"] as? Int == 1)
            let filtered = try await app.request(.get, "/api/v1/projects?filter=team_id%20%3D%20'\(team)'", token: member.access)
            #expect(filtered["total"] as? Int == 1, "team_id can be filtered on: \(filtered.text)")

            let routes: [(HTTPRequest.Method, [String: Any]?)] = [(.get, nil), (.patch, ["name": "Mine"]), (.put, ["name": "Mine"]), (.delete, nil)]
            for (method, body) in routes {
                let reply = try await app.request(method, "/api/v1/projects/\(id)", json: body, token: outsider.access)
                #expect(reply.status == 404, "\(method) answered \(reply.status) to an outsider")
            }
            let outsiderList = try await app.request(.get, "/api/v1/projects", token: outsider.access)
            #expect(outsiderList["total"] as? Int == 1, "only their own team's record")
            let count = try await app.request(.get, "/api/v1/projects/aggregate?op=count", token: outsider.access)
            #expect(((count["groups"] as? [[String: Any]])?.first?["value"] as? Int) == 1, "\(count.text)")

            let intruding = try await app.request(.post, "/api/v1/projects", json: ["team_id": team, "name": "Sneaky"], token: outsider.access)
            #expect(intruding.status == 400 && intruding.fieldErrors["team_id"] == "not_found", "a team the caller is not in")
            let missing = try await app.request(.post, "/api/v1/projects", json: ["name": "Nowhere"], token: member.access)
            #expect(missing.fieldErrors["team_id"] == "required")
            let malformed = try await app.request(.post, "/api/v1/projects", json: ["name": "Nowhere", "team_id": 7], token: member.access)
            #expect(malformed.fieldErrors["team_id"] == "invalid_format")
            let moved = try await app.request(.patch, "/api/v1/projects/\(id)", json: ["team_id": otherTeam], token: member.access)
            #expect(moved.status == 400 && moved.fieldErrors["team_id"] == "immutable")

            // Leaving ends access at once; deleting the team deletes its records.
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(member.userID)", token: member.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/projects/\(id)", token: member.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/projects", token: member.access)["total"] as? Int == 0)
            #expect(try await app.request(.delete, "/api/v1/teams/\(team)", token: owner.access).status == 204)
            let rows = try await app.server.database.first("SELECT COUNT(*) AS n FROM app_testapp_projects")
            #expect(try rows?.decode(column: "n", as: Int64.self) == 1, "only the other team's record is left")
        }
    }

    @Test("Realtime: members hear about the team's records, outsiders do not, and a member who leaves stops hearing")
    func realtime() async throws {
        try await TestApp.withBlueprint(TestBlueprint.yaml, .live) { app in
            let port = try #require(app.client.port)
            let owner = try await app.signup()
            let member = try await app.signup()
            let outsider = try await app.signup()
            let team = try await Self.team(app, owner: owner, members: [member])
            let members = try await RecordSubscription(port: port, path: "/api/v1/projects/events", token: member.access)
            let outsiders = try await RecordSubscription(port: port, path: "/api/v1/projects/events", token: outsider.access)
            defer { members.close(); outsiders.close() }

            let record = try await app.create("/projects", ["team_id": team, "name": "Heard"], token: owner.access)
            let id = try #require(record["id"] as? String)
            let heard = try await members.events(after: 1)
            #expect(heard.first?.name == "created" && heard.first?.data["id"]?.stringValue == id)

            #expect(try await app.request(.delete, "/api/v1/teams/\(team)/members/\(member.userID)", token: member.access).status == 204)
            _ = try await app.create("/projects", ["team_id": team, "name": "Unheard"], token: owner.access)
            let marker = try await Self.team(app, owner: member)
            _ = try await app.create("/projects", ["team_id": marker, "name": "Own"], token: member.access)
            let later = try await members.events(after: 2)
            #expect(later.map(\.name) == ["created", "created"], "\(later)")
            #expect(later.last?.data["name"]?.stringValue == "Own", "the record of the team they left is not told")
            #expect(try await outsiders.events(after: 0).isEmpty, "the outsider heard nothing")
        }
    }
}
