/// A blueprint's platform aliases (`routes: {auth.signup: POST /auth/register}`), resolved to the platform's own paths
/// before routing: `DELETE /api/integrations/{id}` -> `/api/v1/integrations/{id}` with the request's segment in the
/// parameter's place, and an alias's fixed query (`GET /api/conversations/{id}?include=messages`) added to the
/// request's, in place of any parameter of the same name the client sent.
struct PathAliases: Sendable {
    private struct Target: Sendable {
        /// The platform path; `nil` segments take the request's segment at the same parameter position.
        let segments: [String?]
        let query: [(name: Substring, item: String)]
    }

    /// `"METHOD /path"` -> target, for aliases without parameters.
    private var exact: [String: Target] = [:]
    /// Aliases with parameters, by method: their segments (`nil` for a parameter) and target.
    private var patterns: [String: [(segments: [String?], target: Target)]] = [:]

    var isEmpty: Bool { exact.isEmpty && patterns.isEmpty }

    /// Serves `method path` (its parameters `{name}` segments) as `target` (a platform path whose parameters, in
    /// order, take the alias's), with `query` fixed (names and values need no escaping: the blueprint check saw to it).
    mutating func add(method: String, path: String, target: String, query: [(name: String, value: String)]) {
        func segments(_ path: String) -> [String?] {
            path.split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix("{") ? nil : String($0) }
        }
        let resolved = Target(segments: segments(target), query: query.map { (name: Substring($0.name), item: $0.name + "=" + $0.value) })
        let pattern = segments(path)
        if pattern.contains(nil) {
            patterns[method, default: []].append((pattern, resolved))
        } else {
            exact[method + " " + path] = resolved
        }
    }

    /// The platform path and query `path` (with `query`) stands for, or nil when it is no alias.
    func resolve(method: String, path: String, query: String?) -> String? {
        var target = exact[method + " " + path]
        var captured: [Substring] = []
        if target == nil, let candidates = patterns[method] {
            let request = path.split(separator: "/", omittingEmptySubsequences: false)
            for (pattern, candidate) in candidates where pattern.count == request.count {
                captured = []
                let matches = zip(pattern, request).allSatisfy { literal, segment in
                    guard let literal else {
                        captured.append(segment)
                        return !segment.isEmpty
                    }
                    return literal == segment
                }
                if matches {
                    target = candidate
                    break
                }
            }
        }
        guard let target else { return nil }
        var parameters = captured.makeIterator()
        var resolved = target.segments.map { $0 ?? String(parameters.next() ?? "") }.joined(separator: "/")
        let fixedNames = Set(target.query.map(\.name))
        let items = (query ?? "").split(separator: "&").filter { !fixedNames.contains($0.split(separator: "=", maxSplits: 1).first ?? "") }
            .map(String.init) + target.query.map(\.item)
        if !items.isEmpty { resolved += "?" + items.joined(separator: "&") }
        return resolved
    }
}
