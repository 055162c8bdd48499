import App
import Core
import Foundation
import Testing

@Suite("Blueprint collections: relations")
struct CollectionRelationTests {
    static let yaml = """
        blueprint: 1
        app: {name: gym}
        collections:
          plans:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
          workouts:
            schema:
              type: object
              properties:
                plan_id: {type: [string, "null"], format: uuid}
                exercise_id: {type: [string, "null"], format: uuid}
                note: {type: string}
            relations:
              plan_id: {collection: plans, on_delete: set_null}
              exercise_id: {collection: exercises, on_delete: restrict}
          sets:
            schema: {type: object, properties: {workout_id: {type: string, format: uuid}, reps: {type: integer}}}
            relations: {workout_id: {collection: workouts, on_delete: cascade}}
          exercises:
            owner: shared
            schema: {type: object, properties: {name: {type: string}}}
            seed: seed/exercises.json
        """

    @Test("A relation points only at a record its writer may view; expand embeds it; delete cascades, sets null or is refused")
    func relations() async throws {
        let directory = try TestBlueprint.directory(Self.yaml, files: ["seed/exercises.json": """
            [{"id": "5a5a5a5a-0000-4000-8000-000000000001", "name": "Squat"}]
            """])
        try await TestApp.run(customize: { $0.blueprintDirectory = directory }) { app in
            let user = try await app.signup()
            let other = try await app.signup()
            let plan = try await app.create("/plans", ["name": "Strength"], token: user.access)
            let planID = plan["id"] as? String ?? ""
            let squat = "5a5a5a5a-0000-4000-8000-000000000001"
            let workout = try await app.create("/workouts", ["plan_id": planID, "exercise_id": squat, "note": "heavy"], token: user.access)
            let workoutID = workout["id"] as? String ?? ""

            let stolen = try await app.request(.post, "/api/v1/workouts", json: ["plan_id": planID], token: other.access)
            #expect(stolen.fieldErrors["plan_id"] == "not_found", "another user's plan cannot be pointed at")
            #expect(try await app.request(.post, "/api/v1/workouts", json: ["plan_id": UUID().uuidString], token: user.access)
                .fieldErrors["plan_id"] == "not_found")
            let mine = try await app.create("/workouts", ["exercise_id": squat], token: other.access)
            #expect(mine["exercise_id"] as? String == squat, "a shared record can be pointed at by anyone")
            #expect(try await app.request(.patch, "/api/v1/workouts/\(workoutID)", json: ["plan_id": UUID().uuidString], token: user.access)
                .fieldErrors["plan_id"] == "not_found")

            let expanded = try await app.request(.get, "/api/v1/workouts/\(workoutID)?expand=plan_id,exercise_id", token: user.access)
            let expand = expanded["expand"] as? [String: Any] ?? [:]
            #expect((expand["plan_id"] as? [String: Any])?["name"] as? String == "Strength")
            #expect((expand["exercise_id"] as? [String: Any])?["name"] as? String == "Squat")
            let page = try await app.request(.get, "/api/v1/workouts?expand=plan_id", token: user.access)
            #expect(((page["items"] as? [[String: Any]])?.first?["expand"] as? [String: Any])?["plan_id"] != nil)
            #expect(try await app.request(.get, "/api/v1/workouts?expand=note", token: user.access).fieldErrors["expand"] == "unknown_relation")

            let set = try await app.create("/sets", ["workout_id": workoutID, "reps": 5], token: user.access)
            #expect(try await app.request(.delete, "/api/v1/plans/\(planID)", token: user.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/workouts/\(workoutID)", token: user.access)["plan_id"] is NSNull, "set_null")

            #expect(try await app.server.accounts.setAdmin(email: user.email, true))
            let refused = try await app.request(.delete, "/api/v1/exercises/\(squat)", token: user.access)
            #expect(refused.status == 409)
            #expect(refused.code == "record_referenced")

            #expect(try await app.request(.delete, "/api/v1/workouts/\(workoutID)", token: user.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/sets/\(set["id"] as? String ?? "")", token: user.access).status == 404, "cascade")
        }
    }
}
