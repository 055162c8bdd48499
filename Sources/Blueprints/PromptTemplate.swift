import Foundation
import LLM

/// A prompt file as a Mustache template, in the part of Mustache prompts need: `{{name}}` and `{{a.b}}` (and the
/// same in triple braces or `{{& }}`), sections `{{#name}}...{{/name}}` (shown when the value is true, a non-empty
/// text, list or object; repeated for each item of a list, whose fields and `{{.}}` are then in scope), inverted
/// sections `{{^name}}...{{/name}}` and comments `{{! ...}}`. Values are inserted as they are: a prompt is text, not
/// HTML, so nothing is escaped. Partials and delimiter changes are refused.
///
/// Every name is resolved against a sample of the variables when the blueprint loads, with the lookup rendering
/// uses, so a template naming an unknown variable is a `blueprint check` error, never an empty hole at run time.
public struct PromptTemplate: Sendable, Equatable {
    indirect enum Node: Sendable, Equatable {
        case text(String)
        case variable([String])
        case section([String], inverted: Bool, [Node])
    }

    let nodes: [Node]

    private init(nodes: [Node]) {
        self.nodes = nodes
    }

    /// What a prompt that could not be read stands as while its problems are collected.
    static let empty = PromptTemplate(nodes: [])

    public struct SyntaxError: Error, Sendable, Equatable {
        public let message: String
    }

    public init(_ text: String) throws(SyntaxError) {
        var parser = Parser(text: Array(text.unicodeScalars))
        nodes = try parser.nodes(closing: nil)
    }

    /// Whether the template has no variables: its text is the same on every turn (and providers may cache it).
    public var isStatic: Bool { nodes.allSatisfy { if case .text = $0 { true } else { false } } }

    /// Whether any variable or section starts with `root` (`profile`, say): what the renderer must load.
    public func reads(_ root: String) -> Bool { Self.reads(root, nodes) }

    private static func reads(_ root: String, _ nodes: [Node]) -> Bool {
        nodes.contains { node in
            switch node {
            case .text: false
            case .variable(let path): path.first == root
            case .section(let path, _, let inner): path.first == root || reads(root, inner)
            }
        }
    }

    /// The names that do not resolve against `sample` (the variables with a value of each one's shape: a list
    /// holds one sample item), as written.
    public func unknownNames(_ sample: JSONValue) -> [String] {
        var unknown: [String] = []
        Self.check(nodes, stack: [sample], unknown: &unknown)
        return unknown
    }

    private static func check(_ nodes: [Node], stack: [JSONValue], unknown: inout [String]) {
        for node in nodes {
            switch node {
            case .text: continue
            case .variable(let path):
                if lookup(path, stack) == nil { unknown.append(path.joined(separator: ".")) }
            case .section(let path, let inverted, let inner):
                guard let value = lookup(path, stack) else {
                    unknown.append(path.joined(separator: "."))
                    continue
                }
                let item: JSONValue = if case .array(let items) = value { items.first ?? .null } else { value }
                check(inner, stack: inverted ? stack : stack + [item], unknown: &unknown)
            }
        }
    }

    public func render(_ context: JSONValue) -> String {
        var output = ""
        Self.render(nodes, stack: [context], into: &output)
        return output
    }

    private static func render(_ nodes: [Node], stack: [JSONValue], into output: inout String) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .variable(let path):
                output += text(lookup(path, stack) ?? .null)
            case .section(let path, let inverted, let inner):
                let value = lookup(path, stack) ?? .null
                if inverted {
                    if !truthy(value) { render(inner, stack: stack, into: &output) }
                } else if case .array(let items) = value {
                    for item in items { render(inner, stack: stack + [item], into: &output) }
                } else if truthy(value) {
                    render(inner, stack: stack + [value], into: &output)
                }
            }
        }
    }

    /// Mustache's lookup: the innermost scope holding the first name wins, then the rest is read from there.
    private static func lookup(_ path: [String], _ stack: [JSONValue]) -> JSONValue? {
        if path == ["."] { return stack.last }
        guard let first = path.first, let scope = stack.last(where: { $0[first] != nil }) else { return nil }
        var value = scope[first]
        for name in path.dropFirst() { value = value?[name] }
        return value
    }

    private static func truthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .bool(false): false
        case .string(let text): !text.isEmpty
        case .array(let items): !items.isEmpty
        case .object(let fields): !fields.isEmpty
        default: true
        }
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: ""
        case .string(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): String(number)
        case .double(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .array, .object: value.jsonString
        }
    }

    private struct Parser {
        let text: [Unicode.Scalar]
        var position = 0

        init(text: [Unicode.Scalar]) {
            self.text = text
        }

        /// Nodes up to the `{{/name}}` that closes `closing` (or the end, when nil).
        mutating func nodes(closing: [String]?) throws(SyntaxError) -> [Node] {
            var nodes: [Node] = []
            var literal = String.UnicodeScalarView()
            func flush() {
                if !literal.isEmpty { nodes.append(.text(String(literal))) }
                literal = String.UnicodeScalarView()
            }
            while position < text.count {
                guard starts("{{") else {
                    literal.append(text[position])
                    position += 1
                    continue
                }
                flush()
                let tagStart = position
                let triple = starts("{{{")
                position += triple ? 3 : 2
                guard let end = find(triple ? "}}}" : "}}") else { throw error(at: tagStart, "has a {{ that is never closed") }
                var tag = String(String.UnicodeScalarView(text[position..<end])).trimmingCharacters(in: .whitespaces)
                position = end + (triple ? 3 : 2)
                let sigil = triple ? nil : tag.first
                if let sigil, "!#^/&>=".contains(sigil) { tag = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces) }
                switch sigil {
                case "!":
                    continue
                case ">", "=":
                    throw error(at: tagStart, "uses a partial or a delimiter change ({{\(sigil!)...}}), which prompts do not support")
                case "/":
                    guard let closing, try path(tag, at: tagStart) == closing else {
                        throw error(at: tagStart, "closes {{/\(tag)}} that is not open")
                    }
                    return nodes
                case "#", "^":
                    let name = try path(tag, at: tagStart)
                    nodes.append(.section(name, inverted: sigil == "^", try self.nodes(closing: name)))
                default:
                    nodes.append(.variable(try path(tag, at: tagStart)))
                }
            }
            flush()
            if let closing { throw SyntaxError(message: "never closes {{#\(closing.joined(separator: "."))}}") }
            return nodes
        }

        private func path(_ tag: String, at offset: Int) throws(SyntaxError) -> [String] {
            if tag == "." { return ["."] }
            let parts = tag.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !tag.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } }) else {
                throw error(at: offset, "has a tag {{\(tag)}} that is not a name like app.title")
            }
            return parts
        }

        private func starts(_ prefix: String) -> Bool {
            var index = position
            for scalar in prefix.unicodeScalars {
                guard index < text.count, text[index] == scalar else { return false }
                index += 1
            }
            return true
        }

        private func find(_ marker: String) -> Int? {
            var probe = self
            while probe.position < text.count {
                if probe.starts(marker) { return probe.position }
                probe.position += 1
            }
            return nil
        }

        private func error(at offset: Int, _ message: String) -> SyntaxError {
            let line = text[..<offset].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
            return SyntaxError(message: "line \(line) " + message)
        }
    }
}
