import App
import Core
import Foundation
import HTTPTypes
import Testing

@Suite("Blueprint collections: REST")
struct CollectionRESTTests {
    @Test("Create, get, list, PATCH, PUT and delete a record: defaults, owner from the session, hidden fields never returned")
    func lifecycle() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let created = try await app.create("/tasks", ["title": "Plan the week", "due": "2026-12-03T10:00:00.5+01:00",
                                                          "secret_note": "only mine", "sets": [["reps": 5, "weight_kg": 60.5]]],
                                               token: user.access)
            let id = try #require(created["id"] as? String)
            #expect(created["owner_id"] as? String == user.userID)
            #expect(created["status"] as? String == "open")
            #expect(created["priority"] as? Int == 3)
            #expect(created["score"] as? Int == 0)
            #expect(created["done"] as? Bool == false)
            #expect(created["tags"] as? [String] == [])
            #expect(created["estimate"] is NSNull)
            #expect(created["due"] as? String == "2026-12-03T09:00:00.500Z", "date-times are stored in UTC to the millisecond")
            #expect(created["secret_note"] == nil, "hidden fields are never returned")
            #expect(created["created_at"] as? String != nil && created["updated_at"] as? String != nil)

            let fetched = try await app.request(.get, "/api/v1/tasks/\(id)", token: user.access)
            #expect(fetched.status == 200)
            #expect(fetched["title"] as? String == "Plan the week")
            #expect(((fetched["sets"] as? [[String: Any]])?.first?["weight_kg"] as? Double) == 60.5)

            let patched = try await app.request(.patch, "/api/v1/tasks/\(id)", json: ["status": "done", "estimate": 1.5], token: user.access)
            #expect(patched.status == 200, "\(patched.text)")
            #expect(patched["status"] as? String == "done")
            #expect(patched["title"] as? String == "Plan the week", "PATCH keeps the fields it does not name")

            let replaced = try await app.request(.put, "/api/v1/tasks/\(id)", json: ["title": "Plan the month"], token: user.access)
            #expect(replaced.status == 200, "\(replaced.text)")
            #expect(replaced["title"] as? String == "Plan the month")
            #expect(replaced["status"] as? String == "open", "PUT replaces: a field left out takes its default")
            #expect(replaced["estimate"] is NSNull)
            #expect(replaced["source"] as? String == "web")

            let list = try await app.request(.get, "/api/v1/tasks", token: user.access)
            #expect(list["total"] as? Int == 1)
            #expect(list["page"] as? Int == 1 && list["per_page"] as? Int == 20)
            #expect(((list["items"] as? [[String: Any]])?.first?["id"] as? String) == id)

            #expect(try await app.request(.delete, "/api/v1/tasks/\(id)", token: user.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/tasks/\(id)", token: user.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/tasks/\(id)", token: user.access).status == 404)

            let row = try await app.server.database.first("SELECT COUNT(*) AS n FROM app_testapp_tasks")
            #expect(try row?.decode(column: "n", as: Int64.self) == 0, "a real table an operator can query")
        }
    }

    @Test("Bodies are validated by the schema: every problem is a field error with its path and a stable code")
    func validation() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let bad = try await app.request(.post, "/api/v1/tasks", json: [
                "title": "", "status": "later", "priority": 9, "estimate": -1, "due": "2026-02-30T00:00:00Z", "day": "2026-13-01",
                "tags": ["a", "b", "c", "d", "e", "f"], "sets": [["weight_kg": 10]], "code": "abc", "email": "not-an-address",
                "score": 100, "id": "x", "bogus": true,
            ], token: user.access)
            #expect(bad.status == 400)
            #expect(bad.code == "validation_failed")
            let errors = bad.fieldErrors
            #expect(errors["title"] == "too_short")
            #expect(errors["status"] == "not_allowed")
            #expect(errors["priority"] == "out_of_range")
            #expect(errors["estimate"] == "out_of_range")
            #expect(errors["due"] == "invalid_format")
            #expect(errors["day"] == "invalid_format")
            #expect(errors["tags"] == "too_many_items")
            #expect(errors["sets.0.reps"] == "required")
            #expect(errors["code"] == "pattern_mismatch")
            #expect(errors["email"] == "invalid_format")
            #expect(errors["score"] == "readonly")
            #expect(errors["id"] == "readonly")
            #expect(errors["bogus"] == "unknown_field")

            #expect(try await app.request(.post, "/api/v1/tasks", json: ["priority": 2], token: user.access).fieldErrors["title"] == "required")
            #expect(try await app.request(.post, "/api/v1/tasks", json: ["title": "x", "priority": 1e30], token: user.access)
                .fieldErrors["priority"] == "out_of_range", "a whole number past 64 bits is refused, not wrapped")
            #expect(try await app.request(.post, "/api/v1/tasks", json: ["title": "x\u{0}y"], token: user.access)
                .fieldErrors["title"] == "invalid_text")
            #expect(try await app.request(.post, "/api/v1/tasks", json: ["title": NSNull()], token: user.access)
                .fieldErrors["title"] == "invalid_type")
            #expect(try await app.request(.post, "/api/v1/tasks", json: [1, 2], token: user.access).code == "malformed_body")
            #expect(try await app.request(.post, "/api/v1/tasks", token: user.access, headers: [.contentType: "application/json"],
                                          body: .init(string: "{not json")).code == "malformed_body")
            #expect(try await app.request(.post, "/api/v1/tasks", token: user.access, headers: [.contentType: "text/plain"],
                                          body: .init(string: "{}")).status == 415)

            let task = try await app.create("/tasks", ["title": "Mine", "source": "mobile"], token: user.access)
            let id = task["id"] as? String ?? ""
            #expect(try await app.request(.patch, "/api/v1/tasks/\(id)", json: ["source": "web"], token: user.access)
                .fieldErrors["source"] == "immutable")
            #expect(try await app.request(.patch, "/api/v1/tasks/\(id)", json: ["source": "mobile", "title": "Same source"], token: user.access)
                .status == 200, "sending an immutable field's own value back is fine")
            #expect(try await app.request(.patch, "/api/v1/tasks/\(id)", json: ["title": NSNull()], token: user.access)
                .fieldErrors["title"] == "invalid_type")
            #expect(try await app.request(.get, "/api/v1/tasks/not-a-uuid", token: user.access).status == 404)
        }
    }

    @Test("Another user's record answers 404 on every route, and never shows in their lists or aggregates")
    func isolation() async throws {
        try await TestApp.withBlueprint { app in
            let owner = try await app.signup()
            let other = try await app.signup()
            let task = try await app.create("/tasks", ["title": "Private"], token: owner.access)
            let id = task["id"] as? String ?? ""
            let path = "/api/v1/tasks/\(id)"
            #expect(try await app.request(.get, path, token: other.access).status == 404)
            #expect(try await app.request(.put, path, json: ["title": "Taken"], token: other.access).status == 404)
            #expect(try await app.request(.patch, path, json: ["title": "Taken"], token: other.access).status == 404)
            #expect(try await app.request(.delete, path, token: other.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/tasks", token: other.access)["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/tasks?filter=id%20%3D%20'\(id)'", token: other.access)["total"] as? Int == 0)
            let counted = try await app.request(.get, "/api/v1/tasks/aggregate", token: other.access)
            #expect(((counted["groups"] as? [[String: Any]])?.first?["value"] as? Int) == 0)
            #expect(try await app.request(.get, path, token: owner.access)["title"] as? String == "Private", "untouched")
            #expect(try await app.request(.post, "/api/v1/tasks", json: ["title": "x", "owner_id": other.userID], token: owner.access)
                .fieldErrors["owner_id"] == "readonly", "the owner comes from the session, never from the body")
            #expect(try await app.request(.get, "/api/v1/tasks").status == 401)
        }
    }

    @Test("A shared collection: seeded once, read by everyone, written by administrators only")
    func shared() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let tips = try await app.request(.get, "/api/v1/tips?sort=text", token: user.access)
            #expect(tips["total"] as? Int == 3, "\(tips.text)")
            let first = (tips["items"] as? [[String: Any]])?.first
            #expect(first?["text"] as? String == "Drink water")
            #expect(first?["id"] as? String == "0b8d3f7e-1111-4a4a-8b8b-000000000001")
            #expect(first?["owner_id"] == nil)

            let refused = try await app.request(.post, "/api/v1/tips", json: ["text": "Mine"], token: user.access)
            #expect(refused.status == 403)
            #expect(refused.code == "admin_required")
            let id = first?["id"] as? String ?? ""
            #expect(try await app.request(.delete, "/api/v1/tips/\(id)", token: user.access).code == "admin_required")

            #expect(try await app.server.accounts.setAdmin(email: user.email, true))
            let added = try await app.request(.post, "/api/v1/tips", json: ["text": "Stretch", "level": NSNull()], token: user.access)
            #expect(added.status == 201, "\(added.text)")
            let reader = try await app.signup()
            #expect(try await app.request(.get, "/api/v1/tips", token: reader.access)["total"] as? Int == 4)
            #expect(try await app.request(.get, "/api/v1/tips?q=STRETCH", token: reader.access)["total"] as? Int == 1, "search ignores case")
        }
    }

    @Test("Scopes and tier features: an API key needs data:read or data:write; a collection's feature must be in the plan")
    func policy() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let created = try await app.request(.post, "/api/v1/api-keys", json: ["name": "reader", "scopes": ["data:read"]], token: user.access)
            let key = try #require(created["key"] as? String, "\(created.text)")
            #expect(try await app.request(.get, "/api/v1/tasks", token: key).status == 200)
            let write = try await app.request(.post, "/api/v1/tasks", json: ["title": "x"], token: key)
            #expect(write.code == "insufficient_scope")
            let gated = try await app.request(.get, "/api/v1/reports", token: user.access)
            #expect(gated.status == 403)
            #expect(gated.code == "feature_not_in_plan")
        }
    }

    @Test("A user's records count toward the plan's storage: over it, records are read and deleted but not added")
    func storageQuota() async throws {
        try await TestApp.withBlueprint(customize: { $0.freeTier { $0.storageBytes = 2_000 } }) { app in
            let user = try await app.signup()
            let big = String(repeating: "x", count: 110)
            var ids: [String] = []
            for _ in 0..<10 { ids.append(try await app.create("/tasks", ["title": big], token: user.access)["id"] as? String ?? "") }
            app.clock.advance(seconds: 60) // past the figure's recheck time
            let refused = try await app.request(.post, "/api/v1/tasks", json: ["title": big], token: user.access)
            #expect(refused.status == 402, "\(refused.text)")
            #expect(refused.code == "storage_quota_exceeded")
            #expect(try await app.request(.patch, "/api/v1/tasks/\(ids[0])", json: ["title": "y"], token: user.access).status == 402)
            #expect(try await app.request(.get, "/api/v1/tasks", token: user.access)["total"] as? Int == 10)
            for id in ids.prefix(5) { #expect(try await app.request(.delete, "/api/v1/tasks/\(id)", token: user.access).status == 204) }
            #expect(try await app.request(.post, "/api/v1/tasks", json: ["title": "small"], token: user.access).status == 201,
                    "deleting frees the user at once")
        }
    }

    @Test("Route aliases serve an operation at the app's own method and path too, under the same rules")
    func aliases() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let other = try await app.signup()
            let logged = try await app.request(.post, "/api/v1/tasks/log", json: ["title": "Logged"], token: user.access)
            #expect(logged.status == 201, "\(logged.text)")
            let id = logged["id"] as? String ?? ""
            #expect(try await app.request(.get, "/api/v1/todo/\(id)", token: user.access)["title"] as? String == "Logged")
            #expect(try await app.request(.get, "/api/v1/todo/\(id)", token: other.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/tasks/\(id)", token: user.access).status == 200, "the collection's own routes stay")
            let document = try await app.request(.get, "/openapi.json")
            let paths = document["paths"] as? [String: Any] ?? [:]
            #expect((paths["/api/v1/tasks/log"] as? [String: Any])?["post"] != nil)
            #expect(((paths["/api/v1/todo/{task_id}"] as? [String: Any])?["get"] as? [String: Any])?["operationId"] as? String == "getTestappTasksAlias2")

            // Platform operations at the app's own paths: the same checks, the same answers.
            let registered = try await app.request(.post, "/api/v1/auth/register", json: ["email": "alias@example.com", "password": "correct horse battery"])
            #expect(registered.status == 201, "\(registered.text)")
            let token = registered["access_token"] as? String ?? ""
            #expect(try await app.request(.get, "/api/v1/auth/whoami", token: token)["email"] as? String == "alias@example.com")
            #expect(try await app.request(.get, "/api/v1/auth/whoami").status == 401)
            let register = (paths["/api/v1/auth/register"] as? [String: Any])?["post"] as? [String: Any]
            #expect((register?["security"] as? [Any])?.isEmpty == true, "public like signup")

            var settings = app.settings
            settings.blueprintDirectory = try TestBlueprint.directory(TestBlueprint.yaml.replacingOccurrences(of: "auth.me: GET", with: "auth.me: POST"))
            await #expect(throws: StartupError.self) { _ = try await Switchboard.build(settings: settings, logger: .init(label: "test")) }
            // An alias names as many parameters as the platform path has, and fixes only query parameters it takes.
            for wrong in [#"deleteConversation: "DELETE /chats/{a}/{b}""#, #"getConversation: "GET /chats/{id}?expand=all""#] {
                settings.blueprintDirectory = try TestBlueprint.directory(TestBlueprint.yaml.replacingOccurrences(of: "auth.me: GET /auth/whoami", with: wrong))
                await #expect(throws: StartupError.self, "\(wrong)") { _ = try await Switchboard.build(settings: settings, logger: .init(label: "test")) }
            }
            let badQuery = TestBlueprint.yaml.replacingOccurrences(of: "auth.me: GET /auth/whoami", with: #"getConversation: "GET /chats/{id}?include=<b>""#)
            TestBlueprint.expectProblems(badQuery, directory: try TestBlueprint.directory(), ["routes.getConversation: must be \"METHOD /path\""])
        }
    }

    @Test("The served contract lists every collection route and schema; a wrong method answers 405 with Allow")
    func contract() async throws {
        try await TestApp.withBlueprint { app in
            let document = try await app.request(.get, "/openapi.json")
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(Set((paths["/api/v1/tasks"] as? [String: Any] ?? [:]).keys) == ["get", "post"])
            #expect(Set((paths["/api/v1/tasks/{id}"] as? [String: Any] ?? [:]).keys) == ["parameters", "get", "put", "patch", "delete"])
            #expect(paths["/api/v1/tasks/aggregate"] != nil)
            let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
            let input = schemas["TestappTasksInput"] as? [String: Any]
            #expect(input?["required"] as? [String] == ["title"])
            #expect((input?["properties"] as? [String: Any])?["score"] == nil, "readonly fields are not in the input")
            let record = schemas["TestappTasksRecord"] as? [String: Any]
            #expect((record?["properties"] as? [String: Any])?["secret_note"] == nil, "hidden fields are not described")

            let user = try await app.signup()
            let wrong = try await app.request(.delete, "/api/v1/tasks", token: user.access)
            #expect(wrong.status == 405)
            #expect(wrong.headers[.allow] == "GET, POST")
        }
    }

    @Test("Hostile list parameters answer 400 naming the parameter, and the server goes on")
    func hostileParameters() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let long = String(repeating: "title = 'x' || ", count: 300) + "title = 'y'"
            let deep = String(repeating: "(", count: 40) + "title = 'x'" + String(repeating: ")", count: 40)
            let cases: [(String, String)] = [
                ("page=999999999999999999", "page"), ("per_page=1000", "per_page"), ("page=abc", "page"), ("page=1&page=2", "page"),
                ("filter=" + long.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, "filter"),
                ("filter=" + deep.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, "filter"),
                ("filter=ghost%20%3D%201", "filter"), ("filter=priority%20%3D%20'high'", "filter"), ("filter=title%20%3D", "filter"),
                ("filter=secret_note%20%3D%20'x'", "filter"), ("filter=tags%20%3E%201", "filter"),
                ("filter=due%20%3E%20'yesterday'", "filter"), ("filter=done%20%3E%20true", "filter"),
                ("sort=ghost", "sort"), ("sort=tags", "sort"), ("sort=a,b,c,d,e", "sort"), ("fields=ghost", "fields"),
                ("q=" + String(repeating: "a", count: 300), "q"), ("unknown=1", "unknown"), ("fields=" + String(repeating: "a", count: 2001), "fields"),
                ("filter=%zz", "filter"),
            ]
            for (query, field) in cases {
                let reply = try await app.request(.get, "/api/v1/tasks?" + query, token: user.access)
                #expect(reply.status == 400, "\(query): \(reply.text)")
                #expect(reply.fieldErrors[field] != nil, "\(query): \(reply.text)")
            }
            for query in ["op=median", "op=sum", "op=sum&field=title", "group_by=tags", "group_by=a,b,c,d", "op=max&field=ghost"] {
                let reply = try await app.request(.get, "/api/v1/tasks/aggregate?" + query, token: user.access)
                #expect(reply.status == 400, "\(query): \(reply.text)")
            }
            let task = try await app.create("/tasks", ["title": "x"], token: user.access)
            let longFields = try await app.request(.get, "/api/v1/tasks/\(task["id"] as? String ?? "")?fields=" + String(repeating: "0", count: 2001),
                                             token: user.access)
            #expect(longFields.fieldErrors["fields"] == "too_long")
            #expect(try await app.request(.get, "/api/v1/tasks/\(task["id"] as? String ?? "")?fields=ghost", token: user.access)
                .fieldErrors["fields"] == "unknown_field")
            let wrong = try await app.request(.delete, "/api/v1/tasks/aggregate", token: user.access)
            #expect(wrong.headers[.allow] == "GET", "the literal route wins over /tasks/{id}")
            #expect(try await app.request(.get, "/ready").status == 200)
        }
    }
}
