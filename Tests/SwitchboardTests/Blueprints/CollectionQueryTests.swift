import App
import Blueprints
import Core
import Foundation
import LLM
import Testing

@Suite("Blueprint collections: filters, sorting, search and aggregates")
struct CollectionQueryTests {
    @Test("Filters, sort, fields, search and paging answer what they say")
    func queries() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let specs: [[String: Any]] = [
                ["title": "Buy milk", "priority": 1, "status": "done", "estimate": 0.5, "due": "2026-01-01T08:00:00Z", "tags": ["home"]],
                ["title": "Write report", "priority": 5, "due": "2026-03-01T08:00:00Z", "code": "REP-1"],
                ["title": "Call the bank", "priority": 3, "estimate": 2],
                ["title": "buy stamps", "priority": 2, "done": true],
            ]
            var ids: [String] = []
            for spec in specs { ids.append(try await app.create("/tasks", spec, token: user.access)["id"] as? String ?? "") }
            func titles(_ query: String) async throws -> [String] {
                let reply = try await app.request(.get, "/api/v1/tasks?" + query, token: user.access)
                try #require(reply.status == 200, "\(query): \(reply.text)")
                return (reply["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
            }
            func filter(_ text: String, sort: String = "title") -> String {
                "filter=" + text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "&sort=" + sort
            }
            #expect(try await titles(filter("priority >= 3")) == ["Call the bank", "Write report"])
            #expect(try await titles(filter("status = 'done' || done = true")) == ["Buy milk", "buy stamps"])
            #expect(try await titles(filter("(priority < 3 && status != 'done') || code = 'REP-1'")) == ["Write report", "buy stamps"])
            #expect(try await titles(filter("estimate = null")) == ["Write report", "buy stamps"])
            #expect(try await titles(filter("estimate != null && estimate < 1")) == ["Buy milk"])
            #expect(try await titles(filter("code != 'REP-1'")) == ["Buy milk", "Call the bank", "buy stamps"], "!= holds for null")
            #expect(try await titles(filter("title ~ 'uy'")) == ["Buy milk", "buy stamps"])
            #expect(try await titles(filter("title ~ 'Buy'")) == ["Buy milk"], "~ is case-sensitive")
            #expect(try await titles(filter("title !~ 'uy'")) == ["Call the bank", "Write report"])
            #expect(try await titles(filter("priority in [1, 5]")) == ["Buy milk", "Write report"])
            #expect(try await titles(filter("priority !in [1, 5]")) == ["Call the bank", "buy stamps"])
            #expect(try await titles(filter("due < '2026-02-01T09:00:00+01:00'")) == ["Buy milk"], "times compare as times, whatever the offset")
            #expect(try await titles(filter("due < @now")) == ["Buy milk", "Write report"])
            #expect(try await titles(filter("due > @now - 86400 || due = null")) == ["Call the bank", "buy stamps"])
            #expect(try await titles(filter("created_at <= @now && id = '\(ids[2])'")) == ["Call the bank"])
            #expect(try await titles("sort=-priority") == ["Write report", "Call the bank", "buy stamps", "Buy milk"])
            #expect(try await titles("sort=estimate,title") == ["Buy milk", "Call the bank", "Write report", "buy stamps"], "nulls last")
            #expect(try await titles("sort=-estimate,title") == ["Write report", "buy stamps", "Call the bank", "Buy milk"], "nulls first descending")
            #expect(try await titles("sort=title&per_page=2&page=2") == ["Write report", "buy stamps"])
            #expect(try await titles("q=BUY&sort=title") == ["Buy milk", "buy stamps"], "search ignores case")
            #expect(try await titles("q=buy+milk") == ["Buy milk"], "+ is a space, as on every route")

            let page = try await app.request(.get, "/api/v1/tasks?per_page=1&fields=title,priority", token: user.access)
            #expect(page["total"] as? Int == 4)
            let item = (page["items"] as? [[String: Any]])?.first ?? [:]
            #expect(Set(item.keys) == ["id", "title", "priority"])
        }
    }

    @Test("Aggregates: count, sum, avg, min and max, grouped, over the caller's records only")
    func aggregates() async throws {
        try await TestApp.withBlueprint { app in
            let user = try await app.signup()
            let other = try await app.signup()
            for (title, priority, status) in [("a", 1, "open"), ("b", 2, "open"), ("c", 5, "done")] {
                _ = try await app.create("/tasks", ["title": title, "priority": priority, "status": status], token: user.access)
            }
            _ = try await app.create("/tasks", ["title": "theirs", "priority": 4], token: other.access)
            func groups(_ query: String) async throws -> [[String: Any]] {
                let reply = try await app.request(.get, "/api/v1/tasks/aggregate?" + query, token: user.access)
                try #require(reply.status == 200, "\(query): \(reply.text)")
                return reply["groups"] as? [[String: Any]] ?? []
            }
            #expect(try await groups("op=count").first?["value"] as? Int == 3)
            let byStatus = try await groups("op=sum&field=priority&group_by=status")
            #expect(byStatus.map { ($0["group"] as? [String: Any])?["status"] as? String } == ["done", "open"])
            #expect(byStatus.map { $0["value"] as? Int } == [5, 3])
            #expect(try await groups("op=avg&field=priority").first?["value"] as? Double == 8.0 / 3.0)
            #expect(try await groups("op=min&field=title").first?["value"] as? String == "a")
            #expect(try await groups("op=max&field=priority&filter=status%20%3D%20'open'").first?["value"] as? Int == 2)
            #expect(try await groups("op=sum&field=estimate").first?["value"] as? Int == 0, "a sum over nothing is 0")
            #expect(try await groups("op=max&field=estimate").first?["value"] is NSNull)
        }
    }

    /// Random records, random filters: the engine this run uses (SQLite, or PostgreSQL when the suite runs there)
    /// must select exactly the records the in-memory evaluation selects, so both engines agree with each other.
    @Test("Property: random filters over random records give the same records in SQL as in memory")
    func filtersAgreeWithMemory() async throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        let collection = try #require(try BlueprintLoader.load(directory: TestBlueprint.directory()).collection(named: "tasks"))
        try await TestApp.withBlueprint { app in
            var random = SplitMix(seed: seed)
            let user = try await app.signup()
            let titles = ["alpha", "Alpha", "beta", "Ålesund", "zeta 2", "", "a'b", "zé"]
            for _ in 0..<60 {
                var body: [String: Any] = ["title": random.pick(titles.filter { !$0.isEmpty }), "priority": random.int(1...5),
                                           "status": random.pick(["open", "done"]), "done": random.int(0...1) == 1]
                if random.int(0...2) > 0 { body["estimate"] = random.pick([0, 0.5, 2.25, 10, 1e-3]) }
                if random.int(0...2) > 0 { body["due"] = random.pick(["2026-01-01T00:00:00Z", "2026-01-01T00:30:00+01:00", "2027-06-30T12:00:00.250Z"]) }
                if random.int(0...1) > 0 { body["day"] = random.pick(["2026-01-01", "2026-12-31", "2025-07-04"]) }
                if random.int(0...1) > 0 { body["code"] = random.pick(["ABC-1", "ABC-10", "XYZ-2"]) }
                _ = try await app.create("/tasks", body, token: user.access)
            }
            let all = try await app.request(.get, "/api/v1/tasks?per_page=100", token: user.access)
            var records: [JSONValue] = []
            for item in all["items"] as? [[String: Any]] ?? [] {
                records.append(try #require(JSONValue.parse(try JSONSerialization.data(withJSONObject: item))))
            }
            try #require(records.count == 60)
            let context = FilterContext(nowMillis: app.clock.wallClock.now.millis, auth: ["id": .string(user.userID)])
            let match = FilterMatch(collection: collection)

            func atom() -> String {
                func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "\\'") + "'" }
                switch random.int(0...8) {
                case 0: return "title \(random.pick(["=", "!=", "<", ">=", "~", "!~"])) \(quoted(random.pick(titles + ["lph", "Å", "a"])))"
                case 1: return "priority \(random.pick(["=", "!=", "<", "<=", ">", ">="])) \(random.int(0...6))"
                case 2: return "priority \(random.pick(["in", "!in"])) [\(random.int(1...5)), \(random.int(1...5))]"
                case 3: return "estimate \(random.pick(["=", "!=", "<", ">"])) \(random.pick(["null", "0.5", "2", "0.001", "-1"]))"
                    .replacingOccurrences(of: "< null", with: "= null").replacingOccurrences(of: "> null", with: "!= null")
                case 4: return "done \(random.pick(["=", "!="])) \(random.pick(["true", "false"]))"
                case 5: return "due \(random.pick(["<", ">", "=", "!="])) \(random.pick(["'2026-01-01T00:00:00Z'", "'2025-12-31T23:30:00Z'", "@now", "@now + 86400", "null"]))"
                    .replacingOccurrences(of: "< null", with: "= null").replacingOccurrences(of: "> null", with: "!= null")
                case 6: return "day \(random.pick(["<", ">=", "="])) \(quoted(random.pick(["2026-01-01", "2026-06-01"])))"
                case 7: return "code \(random.pick(["in", "!in"])) [\(quoted(random.pick(["ABC-1", "XYZ-2"]))), null]"
                default: return "status = \(quoted(random.pick(["open", "done"])))"
                }
            }
            func expression(_ depth: Int) -> String {
                guard depth > 0, random.int(0...2) > 0 else { return atom() }
                let parts = (0..<random.int(2...3)).map { _ in expression(depth - 1) }
                return "(" + parts.joined(separator: random.pick([" && ", " || "])) + ")"
            }
            var selective = 0
            for _ in 0..<120 {
                let text = expression(3)
                let reply = try await app.request(.get, "/api/v1/tasks?per_page=100&filter=" + text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                                                  token: user.access)
                try #require(reply.status == 200, "seed \(seed): \(text): \(reply.text)")
                let got = Set((reply["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
                let parsed = try FilterParser.parse(text, context: context)
                let expected = Set(records.filter { match.matches(parsed, $0) }.compactMap { $0["id"]?.stringValue })
                #expect(got == expected, "seed \(seed): \(text)")
                if !expected.isEmpty, expected.count < records.count { selective += 1 }
            }
            #expect(selective > 30, "most random filters select some records but not all (seed \(seed))")
            // Text sorts by bytes on both engines (PostgreSQL's collation is not used).
            let sorted = try await app.request(.get, "/api/v1/tasks?per_page=100&sort=title", token: user.access)
            let order = (sorted["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
            #expect(order == order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        }
    }
}
