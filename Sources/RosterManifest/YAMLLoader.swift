import CYAML
import RosterCore

/// Bounds that keep hostile files from eating time or memory.
public struct LoaderLimits: Sendable {
    /// Largest file read, in bytes.
    public var maxFileBytes = 32 << 20
    /// Nodes that aliases may add to a file once expanded ("billion laughs" guard).
    public var maxAliasExpansion = 100_000
    /// Deepest nesting of collections.
    public var maxDepth = 64

    public init() {}
}

/// Reads YAML through libyaml's event API into a `YAMLTree`, keeping every node's position.
///
/// Any problem — a syntax error, bad UTF-8, a tab, a duplicate key, an alias bomb — becomes
/// a diagnostic; the loader never traps. On a fatal problem the documents completed before it
/// are kept and the rest of the file is skipped.
public struct YAMLLoader: Sendable {
    public var limits: LoaderLimits

    public init(limits: LoaderLimits = LoaderLimits()) {
        self.limits = limits
    }

    /// Parses `bytes` as the file shown to users as `file`.
    public func load(_ bytes: [UInt8], file: String) -> (tree: YAMLTree, diagnostics: [Diagnostic]) {
        var builder = TreeBuilder(file: file, limits: limits)
        // Directory YAML runs about one node per 12 bytes; reserving avoids regrowing the arrays.
        builder.reserve(nodes: bytes.count / 12)
        bytes.withUnsafeBufferPointer { buffer in
            builder.parse(buffer)
        }
        return (builder.tree, builder.diagnostics)
    }
}

/// Turns the event stream into nodes; one per file, not shared.
private struct TreeBuilder {
    var tree: YAMLTree
    var diagnostics: [Diagnostic] = []
    let limits: LoaderLimits

    private struct Frame {
        var node: YAMLTree.NodeID
        var pendingStart: Int
    }

    private var stack: [Frame] = []
    /// Children of the open collections, innermost last; moved to `tree.children` on close.
    private var pending: [YAMLTree.NodeID] = []
    private var anchors: [String: YAMLTree.NodeID] = [:]
    private var aliasExpansion = 0
    private var documentRoot: YAMLTree.NodeID?

    init(file: String, limits: LoaderLimits) {
        self.tree = YAMLTree(file: file)
        self.limits = limits
    }

    mutating func reserve(nodes: Int) {
        tree.nodes.reserveCapacity(nodes)
        tree.children.reserveCapacity(nodes)
    }

    mutating func parse(_ input: UnsafeBufferPointer<UInt8>) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            report(.unreadableFile(reason: "libyaml could not allocate a parser"), line: 0, column: 0)
            return
        }
        defer { yaml_parser_delete(&parser) }
        if let base = input.baseAddress {
            yaml_parser_set_input_string(&parser, base, input.count)
        } else {
            var empty: UInt8 = 0
            yaml_parser_set_input_string(&parser, &empty, 0)
        }
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                reportParserError(parser, input: input)
                return
            }
            let keepGoing = handle(event)
            let done = event.type == YAML_STREAM_END_EVENT
            yaml_event_delete(&event)
            if !keepGoing || done { return }
        }
    }

    /// Handles one event; false stops the file.
    private mutating func handle(_ event: yaml_event_t) -> Bool {
        let line = Int32(clamping: event.start_mark.line + 1)
        let column = Int32(clamping: event.start_mark.column + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documentRoot = nil
            anchors.removeAll(keepingCapacity: true)
        case YAML_DOCUMENT_END_EVENT:
            if let root = documentRoot, !tree.isNull(root) {
                tree.documents.append(root)
            }
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = scalar.value.map {
                String(decoding: UnsafeBufferPointer(start: $0, count: Int(scalar.length)), as: UTF8.self)
            } ?? ""
            if let control = value.utf8.first(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D || $0 == 0x7F }) {
                // Only escapes in double quotes get here (libyaml refuses raw control characters);
                // PostgreSQL cannot store U+0000 at all, and none belongs in a directory.
                report(.controlCharacter(scalar: control), line: Int(line), column: Int(column))
            }
            let id = append(YAMLTree.Node(kind: .scalar, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE,
                                          line: line, column: column, start: 0, count: 0, weight: 1, value: value))
            register(anchor: scalar.anchor, for: id)
            attach(id)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            guard stack.count < limits.maxDepth else {
                report(.nestingTooDeep(limit: limits.maxDepth), line: Int(line), column: Int(column))
                return false
            }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let id = append(YAMLTree.Node(kind: isMapping ? .mapping : .sequence, plain: false,
                                          line: line, column: column, start: 0, count: -1, weight: 1, value: ""))
            register(anchor: isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor, for: id)
            stack.append(Frame(node: id, pendingStart: pending.count))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return true }
            close(frame)
            attach(frame.node)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard let target = anchors[name] else {
                report(.undefinedAlias(name: name), line: Int(line), column: Int(column))
                return false
            }
            guard tree.nodes[Int(target)].count >= 0 else {
                report(.recursiveAlias(name: name), line: Int(line), column: Int(column))
                return false
            }
            aliasExpansion = aliasExpansion.addingSaturating(tree.nodes[Int(target)].weight)
            guard aliasExpansion <= limits.maxAliasExpansion else {
                report(.aliasBudget(limit: limits.maxAliasExpansion), line: Int(line), column: Int(column))
                return false
            }
            attach(target)
        default:
            break
        }
        return true
    }

    private mutating func append(_ node: YAMLTree.Node) -> YAMLTree.NodeID {
        tree.nodes.append(node)
        return YAMLTree.NodeID(tree.nodes.count - 1)
    }

    private mutating func register(anchor: UnsafeMutablePointer<yaml_char_t>?, for id: YAMLTree.NodeID) {
        guard let anchor else { return }
        anchors[String(cString: anchor)] = id
    }

    /// Makes `id` a child of the innermost open collection, or the document's root.
    private mutating func attach(_ id: YAMLTree.NodeID) {
        if stack.isEmpty {
            documentRoot = id
        } else {
            pending.append(id)
        }
    }

    /// Moves a finished collection's children into place and checks its keys.
    private mutating func close(_ frame: Frame) {
        let kids = pending[frame.pendingStart...]
        var weight = 1
        for child in kids {
            weight = weight.addingSaturating(tree.nodes[Int(child)].weight)
        }
        let start = Int32(tree.children.count)
        tree.children.append(contentsOf: kids)
        pending.removeSubrange(frame.pendingStart...)
        let index = Int(frame.node)
        tree.nodes[index].start = start
        tree.nodes[index].count = Int32(kids.count)
        tree.nodes[index].weight = weight
        if tree.nodes[index].kind == .mapping {
            checkDuplicateKeys(frame.node)
        }
    }

    private mutating func checkDuplicateKeys(_ mapping: YAMLTree.NodeID) {
        let entries = tree.entries(mapping)
        guard entries.count > 1 else { return }
        // Mappings in these files are small: a pairwise scan beats hashing every key.
        if entries.count <= 16 {
            for later in 1..<entries.count {
                guard let text = tree.scalar(entries[later].key) else { continue }
                for earlier in 0..<later where tree.scalar(entries[earlier].key) == text {
                    reportDuplicate(text, at: entries[later].key, first: entries[earlier].key)
                    break
                }
            }
            return
        }
        var seen: [String: YAMLTree.NodeID] = [:]
        seen.reserveCapacity(entries.count)
        for (key, _) in entries {
            guard let text = tree.scalar(key) else { continue }
            if let first = seen[text] {
                reportDuplicate(text, at: key, first: first)
            } else {
                seen[text] = key
            }
        }
    }

    private mutating func reportDuplicate(_ key: String, at node: YAMLTree.NodeID, first: YAMLTree.NodeID) {
        diagnostics.append(Diagnostic(.duplicateKey(key: key), at: tree.location(node),
                                      notes: [DiagnosticNote("first declared here", at: tree.location(first))]))
    }

    private mutating func report(_ problem: Problem, line: Int, column: Int) {
        diagnostics.append(Diagnostic(problem, at: SourceLocation(file: tree.file, line: line, column: column)))
    }

    private mutating func reportParserError(_ parser: yaml_parser_t, input: UnsafeBufferPointer<UInt8>) {
        var detail = parser.problem.map { String(cString: $0) } ?? "unknown error"
        var line = Int(parser.problem_mark.line) + 1
        var column = Int(parser.problem_mark.column) + 1
        if parser.error == YAML_READER_ERROR {
            // Reader errors (bad encoding, control characters) carry a byte offset, not a mark.
            (line, column) = Self.position(ofByte: Int(parser.problem_offset), in: input)
            if parser.problem_value != -1 {
                detail += " (byte 0x\(String(parser.problem_value, radix: 16)))"
            }
            detail += "; files must be UTF-8 text"
        } else if let context = parser.context.map({ String(cString: $0) }) {
            detail = "\(detail) \(context)"
        }
        if parser.error != YAML_READER_ERROR {
            // At the end of the input libyaml's mark moves to a line past the last one; point at
            // the end of the last line that has text instead.
            var end = input.count
            while end > 0, input[end - 1] == UInt8(ascii: "\n") || input[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let last = Self.position(ofByte: end, in: input)
            if (line, column) > last { (line, column) = last }
        }
        if parser.error == YAML_MEMORY_ERROR {
            report(.yamlSyntax(detail: "out of memory while parsing"), line: line, column: column)
            return
        }
        if parser.error != YAML_READER_ERROR, let problem = parser.problem.map({ String(cString: $0) }) {
            let context = parser.context.map { String(cString: $0) }
            let contextMark = YAMLErrorAdvice.Mark(line: Int(parser.context_mark.line) + 1,
                                                   column: Int(parser.context_mark.column) + 1)
            if let advice = YAMLErrorAdvice(input: input).advise(problem: problem, context: context,
                                                                 at: YAMLErrorAdvice.Mark(line: line, column: column),
                                                                 context: contextMark) {
                let file = tree.file
                let at = { (mark: YAMLErrorAdvice.Mark) in SourceLocation(file: file, line: mark.line, column: mark.column) }
                diagnostics.append(Diagnostic(advice.problem, at: at(advice.at),
                                              notes: advice.notes.map { DiagnosticNote($0.message, at: at($0.at)) }))
                return
            }
        }
        report(.yamlSyntax(detail: detail), line: line, column: column)
    }

    /// The byte offset of a 1-based line and column (in characters), when inside the input.
    static func byteOffset(line: Int, column: Int, in input: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        var currentLine = 1
        while currentLine < line {
            guard let newline = input[index...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            index = newline + 1
            currentLine += 1
        }
        var characters = 1
        while characters < column, index < input.count {
            index += 1
            while index < input.count, input[index] & 0xC0 == 0x80 { index += 1 }
            characters += 1
        }
        return index
    }

    /// Line and column (1-based, in characters) of a byte offset.
    static func position(ofByte offset: Int, in input: UnsafeBufferPointer<UInt8>) -> (Int, Int) {
        var line = 1
        var column = 1
        var index = 0
        let end = min(offset, input.count)
        while index < end {
            let byte = input[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            index += 1
        }
        return (line, column)
    }
}

extension Int {
    func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? Int.max : sum
    }
}
