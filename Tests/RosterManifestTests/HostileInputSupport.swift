import Foundation
import RosterCore
@testable import RosterManifest
import XCTest

/// Helpers of `HostileInputTests`: checks on what the loader returns, mutations, files.
extension HostileInputTests {
    // MARK: Checks

    /// Loads `input` and decodes it both as documents and as roster.yaml; returns what is wrong
    /// with the result, each problem labelled with the input that caused it.
    func check(_ input: [UInt8], file: String, label: String)
        -> (problems: [String], diagnostics: Int, codes: Set<DiagnosticCode>) {
        let (tree, loaded) = YAMLLoader().load(input, file: file)
        var problems = treeProblems(tree, input: input, label: label)
        var documentDecoder = DocumentDecoder(tree: tree)
        var directory = Directory()
        documentDecoder.decode(into: &directory)
        var configDecoder = ConfigDecoder(tree: tree)
        _ = configDecoder.decode()
        let all = loaded + documentDecoder.reader.diagnostics + configDecoder.reader.diagnostics
        for diagnostic in all {
            problems += positionProblems(diagnostic, contents: [file: input], label: label)
        }
        return (problems, loaded.count, Set(loaded.map(\.code)))
    }

    /// Every node reachable from a document has a position inside the file and a closed,
    /// in-bounds range of children.
    func treeProblems(_ tree: YAMLTree, input: [UInt8], label: String) -> [String] {
        let bounds = Bounds(input)
        var problems: [String] = []
        var visited: Set<YAMLTree.NodeID> = []
        var stack = tree.documents
        while let id = stack.popLast() {
            guard visited.insert(id).inserted else { continue }
            guard id >= 0, Int(id) < tree.nodes.count else {
                problems.append("\(label): node \(id) out of range")
                continue
            }
            let node = tree.nodes[Int(id)]
            if !bounds.contains(line: Int(node.line), column: Int(node.column)) {
                problems.append("\(label): node at \(node.line):\(node.column) outside the file (\(bounds))")
            }
            guard node.kind != .scalar else { continue }
            let start = Int(node.start)
            let count = Int(node.count)
            if count < 0 || start < 0 || start + count > tree.children.count
                || (node.kind == .mapping && count % 2 != 0) {
                problems.append("\(label): collection at \(node.line):\(node.column) has children \(start)+\(count)")
                continue
            }
            stack.append(contentsOf: tree.children[start..<(start + count)])
        }
        return problems
    }

    /// A diagnostic and its notes point inside the file they name, or at the whole file.
    func positionProblems(_ diagnostic: Diagnostic, contents: [String: [UInt8]], label: String) -> [String] {
        var problems: [String] = []
        for location in [diagnostic.location] + diagnostic.notes.map(\.location) {
            if location.line == 0 && location.column == 0 {
                if diagnostic.code != .unreadableFile && diagnostic.code != .fileTooLarge
                    && diagnostic.code != .sourceNotFound && diagnostic.code != .configNotFound {
                    problems.append("\(label): [\(diagnostic.code.rawValue)] \(diagnostic.message) has no position")
                }
                continue
            }
            guard let bytes = contents[location.file] else {
                problems.append("\(label): [\(diagnostic.code.rawValue)] points at unknown file \(location)")
                continue
            }
            let bounds = Bounds(bytes)
            if !bounds.contains(line: location.line, column: location.column) {
                problems.append("\(label): [\(diagnostic.code.rawValue)] \(diagnostic.message) at \(location) outside the file (\(bounds))")
            }
        }
        return problems
    }

    /// Loose bounds on where a position may fall in a file: libyaml breaks lines at LF, CR,
    /// NEL, LS and PS; a column never exceeds the longest run of bytes between LFs plus one.
    struct Bounds: CustomStringConvertible {
        let lines: Int
        let columns: Int

        init(_ bytes: [UInt8]) {
            var breaks = 0
            var longest = 0
            var run = 0
            for (index, byte) in bytes.enumerated() {
                if byte == 0x0A || byte == 0x0D { breaks += 1 }
                if byte == 0xC2, index + 1 < bytes.count, bytes[index + 1] == 0x85 { breaks += 1 }
                if byte == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x80,
                   bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9 { breaks += 1 }
                if byte == 0x0A {
                    run = 0
                } else {
                    run += 1
                    longest = max(longest, run)
                }
            }
            lines = breaks + 1
            columns = longest + 1
        }

        func contains(line: Int, column: Int) -> Bool {
            (1...lines).contains(line) && (1...columns).contains(column)
        }

        var description: String { "\(lines) lines, \(columns) columns" }
    }

    // MARK: Mutations

    static let specialBytes: [UInt8] = [
        0x00, 0xFF, 0x09, 0x0A, 0x0D, 0x20, 0xC3, 0x80, 0xE2, 0xFE, 0x7F, 0x1B,
    ] + Array("&*:[]{}\"'-#!|>%@`,?~\\".utf8)

    static let snippets: [[UInt8]] = [
        "&x ", "*x", "*y ", "&y [*y]", "<<: *x\n", "---\n", "...\n", "!!binary", "? ", "- ",
        "\t", "%YAML 1", "{a: 1}", "[1, 2]", ": ", "\n  ", "'", "\"\\u", "\\x00", "\u{2028}", "é",
        "kind: ", "id: no", "&x", "*x\n", "*x, *x",
    ].map { Array($0.utf8) }

    /// Applies one random edit of 1–8 bytes to `bytes`; returns a description of it.
    static func mutate(_ bytes: inout [UInt8], using random: inout SeededRandomSource) -> String {
        let position = Int.random(in: 0...bytes.count, using: &random)
        let length = Int.random(in: 1...8, using: &random)
        func byte() -> UInt8 {
            Bool.random(using: &random)
                ? specialBytes[Int.random(in: 0..<specialBytes.count, using: &random)]
                : UInt8.random(in: 0...255, using: &random)
        }
        switch Int.random(in: 0..<5, using: &random) {
        case 0 where position < bytes.count:
            let end = min(bytes.count, position + length)
            for index in position..<end {
                bytes[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            }
            return "flip \(end - position) at \(position)"
        case 1 where position < bytes.count:
            let end = min(bytes.count, position + length)
            for index in position..<end {
                bytes[index] = byte()
            }
            return "overwrite \(end - position) at \(position)"
        case 2 where position < bytes.count:
            let end = min(bytes.count, position + length)
            bytes.removeSubrange(position..<end)
            return "delete \(end - position) at \(position)"
        case 3:
            let snippet = snippets[Int.random(in: 0..<snippets.count, using: &random)]
            bytes.insert(contentsOf: snippet, at: position)
            return "insert \(String(decoding: snippet, as: UTF8.self).debugDescription) at \(position)"
        default:
            let inserted = (0..<length).map { _ in byte() }
            bytes.insert(contentsOf: inserted, at: position)
            return "insert \(inserted) at \(position)"
        }
    }

    // MARK: Files

    /// Every YAML file of the example projects, with its path from the package root.
    func exampleFiles() throws -> [(name: String, bytes: [UInt8])] {
        var files: [(name: String, bytes: [UInt8])] = []
        for project in Self.exampleProjects {
            for url in try yamlFiles(under: Self.packageRoot.appendingPathComponent(project)) {
                let name = String(url.path.dropFirst(Self.packageRoot.path.count + 1))
                files.append((name, try bytes(of: url)))
            }
        }
        XCTAssertGreaterThanOrEqual(files.count, 20, "examples not found under \(Self.packageRoot.path)")
        return files
    }

    func yamlFiles(under folder: URL) throws -> [URL] {
        let base = folder.resolvingSymlinksInPath()
        guard let enumerator = FileManager.default.enumerator(atPath: base.path) else {
            throw CocoaError(.fileNoSuchFile)
        }
        var found: [URL] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") {
                found.append(base.appendingPathComponent(relative))
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    func bytes(of url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    func newTemporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("roster-hostile-\(UUID().uuidString)").resolvingSymlinksInPath()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        temporaryFolders.append(folder)
        return folder.resolvingSymlinksInPath()
    }

    /// A temporary project made of `files` (path relative to the project → contents).
    func makeProject(_ files: [String: String]) throws -> URL {
        let root = try newTemporaryFolder()
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return root
    }

    /// A temporary copy of an example project.
    func copyOfExample(_ project: String) throws -> URL {
        let root = try newTemporaryFolder().appendingPathComponent("project")
        try FileManager.default.copyItem(at: Self.packageRoot.appendingPathComponent(project), to: root)
        return root
    }
}

final class DiagnosticsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Diagnostic] = []

    var diagnostics: [Diagnostic] {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
