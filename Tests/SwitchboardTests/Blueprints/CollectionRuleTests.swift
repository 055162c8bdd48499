import App
import Blueprints
import Core
import Foundation
import Testing

@Suite("Blueprint collections: rules and field rules")
struct CollectionRuleTests {
    static let yaml = """
        blueprint: 1
        app: {name: rules}
        collections:
          posts:
            owner: shared
            schema:
              type: object
              required: [title]
              properties:
                title: {type: string}
                status: {enum: [draft, published, archived], default: draft}
                author: {type: [string, "null"]}
                logged_at: {type: [string, "null"], format: date-time}
                salary: {type: [integer, "null"], read: "@auth.role = 'admin' || author = @auth.id", write: "@auth.role = 'admin'"}
            rules:
              list: "status = 'published' || author = @auth.id || @auth.role = 'admin'"
              view: "status = 'published' || author = @auth.id || @auth.role = 'admin'"
              create: "author = @auth.id && status = 'draft'"
              update: "author = @auth.id && status != 'archived'"
              delete: "author = @auth.id && logged_at > @now - 86400"
          notes:
            schema: {type: object, properties: {text: {type: string}, pinned: {type: boolean, default: false}}}
            rules:
              create: "@body.text != 'forbidden'"
              delete: "pinned = false"
        """

    @Test("List rules filter, view, update and delete rules answer 404, create rules 403; admins write shared collections past them")
    func rules() async throws {
        try await TestApp.withBlueprint(Self.yaml) { app in
            let alice = try await app.signup()
            let bob = try await app.signup()
            let admin = try await app.signup()
            #expect(try await app.server.accounts.setAdmin(email: admin.email, true))

            let draft = try await app.create("/posts", ["title": "Alice's draft", "author": alice.userID], token: alice.access)
            let id = draft["id"] as? String ?? ""
            let forged = try await app.request(.post, "/api/v1/posts", json: ["title": "As Bob", "author": bob.userID], token: alice.access)
            #expect(forged.status == 403)
            #expect(forged.code == "rule_failed")
            #expect(try await app.request(.post, "/api/v1/posts", json: ["title": "x", "author": alice.userID, "status": "published"],
                                          token: alice.access).code == "rule_failed")

            #expect(try await app.request(.get, "/api/v1/posts", token: bob.access)["total"] as? Int == 0, "the list rule filters")
            #expect(try await app.request(.get, "/api/v1/posts/\(id)", token: bob.access).status == 404)
            #expect(try await app.request(.patch, "/api/v1/posts/\(id)", json: ["title": "Bob's now"], token: bob.access).status == 404)
            #expect(try await app.request(.patch, "/api/v1/posts/\(id)", json: ["title": "Still Alice's"], token: alice.access).status == 200)

            let published = try await app.request(.patch, "/api/v1/posts/\(id)", json: ["status": "published", "salary": 5000], token: admin.access)
            #expect(published.status == 200, "administrators write a shared collection past its write rules: \(published.text)")
            let seen = try await app.request(.get, "/api/v1/posts/\(id)", token: bob.access)
            #expect(seen.status == 200)
            #expect(seen["salary"] == nil, "a field's read rule hides it from others")
            #expect(try await app.request(.get, "/api/v1/posts/\(id)", token: alice.access)["salary"] as? Int == 5000)
            #expect(try await app.request(.get, "/api/v1/posts?filter=salary%20%3E%200", token: bob.access)["total"] as? Int == 0,
                    "a filter cannot find what the read rule hides")
            #expect(try await app.request(.get, "/api/v1/posts?filter=salary%20!%3D%201", token: bob.access)["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/posts?filter=salary%20%3E%200", token: alice.access)["total"] as? Int == 1)
            #expect(try await app.request(.get, "/api/v1/posts?sort=salary", token: bob.access).fieldErrors["sort"] != nil)
            #expect(try await app.request(.get, "/api/v1/posts/aggregate?op=sum&field=salary", token: bob.access).status == 400)
            #expect(try await app.request(.get, "/api/v1/posts?sort=salary", token: admin.access).status == 200)
            let raise = try await app.request(.patch, "/api/v1/posts/\(id)", json: ["salary": 9000], token: alice.access)
            #expect(raise.status == 403)
            #expect(raise.code == "field_rule_failed")
            #expect(raise.fieldErrors["salary"] == "not_writable")

            #expect(try await app.request(.patch, "/api/v1/posts/\(id)", json: ["status": "archived"], token: admin.access).status == 200)
            #expect(try await app.request(.patch, "/api/v1/posts/\(id)", json: ["title": "Edited"], token: alice.access).status == 404,
                    "the update rule no longer admits it")

            let now = app.clock.wallClock.now
            let recent = try await app.create("/posts", ["title": "Recent", "author": alice.userID,
                                                         "logged_at": RFC3339.format(now.addingTimeInterval(-3600))], token: alice.access)
            let old = try await app.create("/posts", ["title": "Old", "author": alice.userID,
                                                      "logged_at": RFC3339.format(now.addingTimeInterval(-3 * 86400))], token: alice.access)
            #expect(try await app.request(.delete, "/api/v1/posts/\(old["id"] as? String ?? "")", token: alice.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/posts/\(recent["id"] as? String ?? "")", token: bob.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/posts/\(recent["id"] as? String ?? "")", token: alice.access).status == 204)
        }
    }

    @Test("On a user-owned collection, rules narrow what the owner may do; @body reads the request")
    func ownedRules() async throws {
        try await TestApp.withBlueprint(Self.yaml) { app in
            let user = try await app.signup()
            #expect(try await app.request(.post, "/api/v1/notes", json: ["text": "forbidden"], token: user.access).code == "rule_failed")
            let pinned = try await app.create("/notes", ["text": "keep", "pinned": true], token: user.access)
            let loose = try await app.create("/notes", ["text": "drop"], token: user.access)
            #expect(try await app.request(.delete, "/api/v1/notes/\(pinned["id"] as? String ?? "")", token: user.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/notes/\(loose["id"] as? String ?? "")", token: user.access).status == 204)
        }
    }

    @Test("Rules are checked when the blueprint loads: unknown fields, @body where there is none, bad syntax")
    func checkedRules() throws {
        let yaml = """
            blueprint: 1
            app: {name: broken}
            collections:
              things:
                schema:
                  type: object
                  properties:
                    name: {type: string, read: "ghost = 1"}
                    size: {type: integer}
                rules:
                  list: "@body.name = 'x'"
                  update: "size > 'big'"
                  delete: "name = "
                  purge: "1 = 1"
            """
        do {
            _ = try BlueprintLoader.parse(yaml: yaml, directory: "/tmp")
            Issue.record("the blueprint should not load")
        } catch {
            let text = error.problems.joined(separator: "\n")
            #expect(text.contains("blueprint.yaml:8: collections.things.schema.properties.name.read: the rule is not valid: ghost is not a field"), "\(text)")
            #expect(text.contains("collections.things.rules.list: the rule uses @body where there is no body"), "\(text)")
            #expect(text.contains("collections.things.rules.update: the rule is not valid: size cannot be compared"), "\(text)")
            #expect(text.contains("collections.things.rules.delete: the rule expects a value"), "\(text)")
            #expect(text.contains("collections.things.rules.purge: is not a known key"), "\(text)")
        }
    }
}
