import App
import Blueprints
import Core
import Foundation
import Testing

@Suite("Blueprint collections: profile fields and hooks")
struct CollectionHookTests {
    static let yaml = """
        blueprint: 1
        app: {name: fit}
        profile:
          affinity_score: {type: integer, default: 0, minimum: 0, readonly: true}
          units: {enum: [kg, lb], default: kg}
          last_workout: {type: [string, "null"], format: date-time, readonly: true}
        collections:
          plans:
            schema: {type: object, properties: {name: {type: string}, uses: {type: integer, default: 0, minimum: 0, maximum: 2, readonly: true}}}
          workouts:
            schema:
              type: object
              properties:
                plan_id: {type: [string, "null"], format: uuid}
                note: {type: string}
            relations: {plan_id: {collection: plans, on_delete: set_null}}
            hooks:
              after_create:
                - increment: {profile: affinity_score, by: 2}
                - set: {profile: last_workout, value: "@now"}
                - create: {collection: activity, record: {kind: workout, ref: "@record.id"}}
                - increment: {relation: plan_id, field: uses}
              after_delete:
                - decrement: {profile: affinity_score, by: 2}
          activity:
            schema: {type: object, properties: {kind: {type: string}, ref: {type: string}}}
        """

    @Test("Hooks change the profile, related records and other collections in the write's transaction; a failing hook rolls it all back")
    func hooks() async throws {
        try await TestApp.withBlueprint(Self.yaml) { app in
            let user = try await app.signup()
            let profile = try await app.request(.get, "/api/v1/profile", token: user.access)
            #expect(profile.status == 200, "\(profile.text)")
            #expect(profile["affinity_score"] as? Int == 0)
            #expect(profile["units"] as? String == "kg")
            #expect(profile["id"] as? String == user.userID, "the profile's id is the user's")
            #expect(try await app.request(.patch, "/api/v1/profile", json: ["units": "lb"], token: user.access)["units"] as? String == "lb")
            #expect(try await app.request(.patch, "/api/v1/profile", json: ["affinity_score": 99], token: user.access)
                .fieldErrors["affinity_score"] == "readonly", "only hooks change a readonly profile field")

            let plan = try await app.create("/plans", ["name": "Strength"], token: user.access)
            let planID = plan["id"] as? String ?? ""
            let first = try await app.create("/workouts", ["plan_id": planID, "note": "one"], token: user.access)
            let after = try await app.request(.get, "/api/v1/profile", token: user.access)
            #expect(after["affinity_score"] as? Int == 2)
            #expect(after["last_workout"] as? String == RFC3339.format(millis: app.clock.wallClock.now.millis))
            #expect(try await app.request(.get, "/api/v1/plans/\(planID)", token: user.access)["uses"] as? Int == 1)
            let activity = try await app.request(.get, "/api/v1/activity", token: user.access)
            #expect((activity["items"] as? [[String: Any]])?.first?["ref"] as? String == first["id"] as? String)

            // A total counted before a hook changed the record is not served after it.
            #expect(try await app.request(.get, "/api/v1/plans?filter=uses%20%3E%3D%202", token: user.access)["total"] as? Int == 0)
            _ = try await app.create("/workouts", ["plan_id": planID, "note": "two"], token: user.access)
            #expect(try await app.request(.get, "/api/v1/plans?filter=uses%20%3E%3D%202", token: user.access)["total"] as? Int == 1)
            let third = try await app.request(.post, "/api/v1/workouts", json: ["plan_id": planID, "note": "three"], token: user.access)
            #expect(third.status == 409, "\(third.text)")
            #expect(third.code == "hook_failed")
            #expect(try await app.request(.get, "/api/v1/workouts", token: user.access)["total"] as? Int == 2, "the write was rolled back")
            #expect(try await app.request(.get, "/api/v1/activity", token: user.access)["total"] as? Int == 2)
            #expect(try await app.request(.get, "/api/v1/profile", token: user.access)["affinity_score"] as? Int == 4,
                    "the hook steps before the failing one were rolled back too")

            #expect(try await app.request(.delete, "/api/v1/workouts/\(first["id"] as? String ?? "")", token: user.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/profile", token: user.access)["affinity_score"] as? Int == 2)

            let other = try await app.signup()
            #expect(try await app.request(.get, "/api/v1/profile", token: other.access)["affinity_score"] as? Int == 0, "profiles are per user")
        }
    }
}

@Suite("Blueprint collections: rules that read the profile")
struct ProfileRuleTests {
    static let yaml = """
        blueprint: 1
        app: {name: school}
        profile:
          level: {type: integer, default: 1, minimum: 1, readonly: true}
        collections:
          lessons:
            owner: shared
            schema: {type: object, properties: {title: {type: string}, min_level: {type: integer}}}
            rules: {list: "min_level <= @auth.profile.level", view: "min_level <= @auth.profile.level"}
            seed: seed/lessons.json
          completions:
            schema: {type: object, properties: {note: {type: string}}}
            hooks: {after_create: [{increment: {profile: level}}]}
        """

    @Test("@auth.profile.* in a rule is the caller's profile as it stands: a hook that raises it opens what the rule held back")
    func profileRules() async throws {
        let directory = try TestBlueprint.directory(Self.yaml, files: ["seed/lessons.json": """
            [{"title": "One", "min_level": 1}, {"title": "Two", "min_level": 2}, {"title": "Three", "min_level": 3}]
            """])
        try await TestApp.run(customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            #expect(try await app.request(.get, "/api/v1/lessons", token: user.access)["total"] as? Int == 1, "a new profile has its defaults")
            _ = try await app.create("/completions", ["note": "done"], token: user.access)
            let lessons = try await app.request(.get, "/api/v1/lessons?sort=min_level", token: user.access)
            #expect((lessons["items"] as? [[String: Any]])?.compactMap { $0["title"] as? String } == ["One", "Two"])
            let other = try await app.signup()
            #expect(try await app.request(.get, "/api/v1/lessons", token: other.access)["total"] as? Int == 1, "each caller's own profile")
        }
        #expect(throws: BlueprintError.self) {
            _ = try BlueprintLoader.parse(yaml: Self.yaml.replacingOccurrences(of: "@auth.profile.level\", view", with: "@auth.profile.ghost\", view"),
                                          directory: directory)
        }
    }
}
