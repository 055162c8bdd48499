import LLM
import Yams

/// A YAML document as JSON values, with the line each value started on, so that every problem found later can
/// point at its line.
struct YAMLTree {
    let root: JSONValue
    /// Line numbers (from 1) by dotted path (`collections.workouts.schema`).
    let lines: [String: Int]

    /// YAML 1.2's core types only: no timestamps (a date stays the text it was) and no merge keys.
    private static let resolver = Resolver.default.removing(.timestamp).removing(.merge).removing(.value)

    init(yaml: String) throws(BlueprintError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml, Self.resolver)
        } catch {
            throw BlueprintError(["\(error)"])
        }
        var lines: [String: Int] = [:]
        var problems: [String] = []
        root = node.map { Self.convert($0, path: "", lines: &lines, problems: &problems) } ?? .null
        self.lines = lines
        if !problems.isEmpty { throw BlueprintError(problems) }
    }

    func line(_ path: String) -> Int? {
        var path = Substring(path)
        while true {
            if let line = lines[String(path)] { return line }
            guard let dot = path.lastIndex(of: ".") else { return lines[""] }
            path = path[..<dot]
        }
    }

    private static func convert(_ node: Node, path: String, lines: inout [String: Int], problems: inout [String]) -> JSONValue {
        if let mark = node.mark { lines[path] = mark.line }
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case Tag.Name.float.rawValue: return node.float.map(JSONValue.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(sequence.enumerated().map { index, item in
                convert(item, path: join(path, String(index)), lines: &lines, problems: &problems)
            })
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key else {
                    problems.append("line \(key.mark?.line ?? 0): keys must be plain text")
                    continue
                }
                let child = join(path, name.string)
                if object[name.string] != nil {
                    problems.append("line \(key.mark?.line ?? 0): \(child) is given twice")
                }
                object[name.string] = convert(value, path: child, lines: &lines, problems: &problems)
                if let mark = key.mark { lines[child] = mark.line }
            }
            return .object(object)
        case .alias:
            problems.append("line \(node.mark?.line ?? 0): aliases are not supported")
            return .null
        }
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }
}

/// Everything wrong with a blueprint, each problem on its own line with the line of the file it is about.
public struct BlueprintError: Error, CustomStringConvertible, Sendable {
    public let problems: [String]

    init(_ problems: [String]) {
        self.problems = problems
    }

    public var description: String { problems.joined(separator: "\n") }
}
