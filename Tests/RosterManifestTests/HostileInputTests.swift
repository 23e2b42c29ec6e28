import Foundation
import RosterCore
@testable import RosterManifest
import XCTest

/// SPEC §10 "Safe on bad input": truncated, mutated and hostile files end in diagnostics
/// with sane positions, never a crash or a hang; and scalars stay the strings written.
final class HostileInputTests: XCTestCase {
    /// The package root: three levels up from this file.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let exampleProjects = ["examples/quickstart", "examples/reseller-platform"]

    /// A fixed day, so expiry never depends on when the tests run.
    static let today = Day(year: 2027, month: 1, day: 1)

    var temporaryFolders: [URL] = []

    override func tearDown() {
        for folder in temporaryFolders {
            try? FileManager.default.removeItem(at: folder)
        }
        temporaryFolders = []
        super.tearDown()
    }

    // MARK: 1. Truncations and random mutations

    func testEveryTruncationOfTheExamplesEndsInSaneDiagnostics() throws {
        let files = try exampleFiles()
        let clock = ContinuousClock()
        let start = clock.now
        var problems: [String] = []
        var loads = 0
        var withDiagnostics = 0
        for (name, bytes) in files {
            // The untouched file parses cleanly, so the diagnostics below come from the cuts.
            XCTAssertEqual(YAMLLoader().load(bytes, file: name).diagnostics, [], name)
            for cut in stride(from: 0, through: bytes.count, by: 7) {
                let input = Array(bytes[..<cut])
                let found = check(input, file: name, label: "\(name) cut at byte \(cut)")
                problems += found.problems
                loads += 1
                if found.diagnostics > 0 { withDiagnostics += 1 }
            }
        }
        let elapsed = clock.now - start
        XCTAssertEqual(problems.count, 0, problems.prefix(10).joined(separator: "\n"))
        XCTAssertGreaterThan(loads, 2_000)
        XCTAssertGreaterThan(withDiagnostics, 0, "no truncation produced a diagnostic; is the loader running?")
        XCTAssertLessThan(elapsed, .seconds(60))
    }

    func testRandomMutationsOfTheExamplesEndInSaneDiagnostics() throws {
        let files = try exampleFiles()
        var random = SeededRandomSource(seed: 0x5EED_2027)
        let clock = ContinuousClock()
        let start = clock.now
        var problems: [String] = []
        var codes: Set<DiagnosticCode> = []
        let rounds = 4_000
        for round in 0..<rounds {
            let (name, original) = files[Int.random(in: 0..<files.count, using: &random)]
            var input = original
            var steps: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                steps.append(Self.mutate(&input, using: &random))
            }
            let label = "round \(round): \(name) after \(steps.joined(separator: ", "))"
            let found = check(input, file: name, label: label)
            problems += found.problems
            codes.formUnion(found.codes)
        }
        let elapsed = clock.now - start
        XCTAssertEqual(problems.count, 0, problems.prefix(10).joined(separator: "\n"))
        // The mutations reach the interesting paths of the loader, not only one error.
        XCTAssertTrue(codes.isSuperset(of: [.yamlSyntax, .duplicateKey, .undefinedAlias]), "\(codes.sorted { $0.rawValue < $1.rawValue })")
        XCTAssertLessThan(elapsed, .seconds(60))
    }

    func testMutatedProjectLoadsAndValidatesWithSaneDiagnostics() throws {
        let root = try copyOfExample("examples/quickstart")
        let configPath = root.appendingPathComponent("roster.yaml").path
        let relativePaths = try yamlFiles(under: root).map { String($0.path.dropFirst(root.path.count + 1)) }
        XCTAssertEqual(relativePaths.count, 6, "\(relativePaths)")
        var originals: [String: [UInt8]] = [:]
        for path in relativePaths {
            originals[path] = try bytes(of: root.appendingPathComponent(path))
        }
        var random = SeededRandomSource(seed: 42)
        let clock = ContinuousClock()
        let start = clock.now
        var problems: [String] = []
        var invalidRuns = 0
        for round in 0..<300 {
            let path = relativePaths[Int.random(in: 0..<relativePaths.count, using: &random)]
            guard let original = originals[path] else { continue }
            var input = original
            var steps: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                steps.append(Self.mutate(&input, using: &random))
            }
            let url = root.appendingPathComponent(path)
            try Data(input).write(to: url)
            defer { try? Data(original).write(to: url) }

            let manifest = ManifestLoader(displayBase: root.path).load(configPath: configPath)
            var validator = Validator(config: manifest.config, directory: manifest.directory, today: Self.today)
            validator.checkReferences = !manifest.isIncomplete
            let diagnostics = (manifest.diagnostics + validator.run()).sorted()
            if diagnostics.hasErrors { invalidRuns += 1 }

            var contents = originals
            contents[path] = input
            let label = "round \(round): \(path) after \(steps.joined(separator: ", "))"
            for diagnostic in diagnostics {
                problems += positionProblems(diagnostic, contents: contents, label: label)
            }
        }
        let elapsed = clock.now - start
        XCTAssertEqual(problems.count, 0, problems.prefix(10).joined(separator: "\n"))
        XCTAssertGreaterThan(invalidRuns, 0)
        XCTAssertLessThan(elapsed, .seconds(60))
        // The originals were put back: the project is valid again.
        let manifest = ManifestLoader(displayBase: root.path).load(configPath: configPath)
        XCTAssertFalse(manifest.diagnostics.hasErrors, "\(manifest.diagnostics)")
    }

    // MARK: 2. Hostile YAML

    func testBillionLaughsStopsAtTheAliasBudget() {
        let lol = "[" + Array(repeating: "\"lol\"", count: 10).joined(separator: ", ") + "]"
        var text = "kind: Role\nid: laughs\na: &a \(lol)\n"
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        let clock = ContinuousClock()
        let start = clock.now
        let (_, diagnostics) = YAMLLoader().load(Array(text.utf8), file: "bomb.yaml")
        XCTAssertLessThan(clock.now - start, .seconds(2))
        XCTAssertEqual(diagnostics.map(\.code), [.aliasBudget], "\(diagnostics)")
        let location = diagnostics.first?.location
        XCTAssertEqual(location?.file, "bomb.yaml")
        // Levels a…d weigh 11, 111, 1111 and 11111 nodes, and b…d's aliases add 12,330; the
        // budget of 100,000 runs out on the eighth alias of level e (line 7), at 101,218.
        XCTAssertEqual(location?.line, 7)
        XCTAssertEqual(location?.column, 8 + 4 * 7)
    }

    func testManyAliasesToOneLargeNodeStopAtTheBudget() {
        let big = "[" + (0..<1_000).map(String.init).joined(separator: ", ") + "]"
        let text = "x: &x \(big)\ny:\n" + String(repeating: "  - *x\n", count: 500)
        let clock = ContinuousClock()
        let start = clock.now
        let (_, diagnostics) = YAMLLoader().load(Array(text.utf8), file: "wide.yaml")
        XCTAssertLessThan(clock.now - start, .seconds(2))
        XCTAssertEqual(diagnostics.map(\.code), [.aliasBudget])
        XCTAssertEqual(diagnostics.first?.location.column, 5)
    }

    func testUndefinedAndRecursiveAliases() {
        let undefined = YAMLLoader().load(Array("kind: User\nemail: *nope\n".utf8), file: "u.yaml").diagnostics
        XCTAssertEqual(undefined.map(\.code), [.undefinedAlias])
        XCTAssertEqual(undefined.first?.location, SourceLocation(file: "u.yaml", line: 2, column: 8))
        XCTAssertTrue(undefined.first?.message.contains("'*nope'") ?? false, undefined.first?.message ?? "")

        // An anchor from an earlier document is gone in the next one.
        let earlier = YAMLLoader().load(Array("a: &x 1\n---\nb: *x\n".utf8), file: "d.yaml").diagnostics
        XCTAssertEqual(earlier.map(\.code), [.undefinedAlias])
        XCTAssertEqual(earlier.first?.location.line, 3)

        let recursive = YAMLLoader().load(Array("kind: Role\nid: &a [*a]\n".utf8), file: "r.yaml").diagnostics
        XCTAssertEqual(recursive.map(\.code), [.undefinedAlias])
        XCTAssertEqual(recursive.first?.location, SourceLocation(file: "r.yaml", line: 2, column: 9))
        XCTAssertTrue(recursive.first?.message.contains("recursive") ?? false, recursive.first?.message ?? "")

        let nested = YAMLLoader().load(Array("a: &a\n  b:\n    - c: *a\n".utf8), file: "n.yaml").diagnostics
        XCTAssertEqual(nested.map(\.code), [.undefinedAlias])
        XCTAssertEqual(nested.first?.location, SourceLocation(file: "n.yaml", line: 3, column: 10))
    }

    func testDeepNestingIsRefused() {
        let inputs = [
            String(repeating: "[", count: 10_000),
            String(repeating: "{a: ", count: 10_000),
            String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
            String(repeating: "- ", count: 10_000) + "x\n",
            (0..<200).map { String(repeating: " ", count: $0) + "a:\n" }.joined(),
        ]
        let clock = ContinuousClock()
        for (index, text) in inputs.enumerated() {
            let start = clock.now
            let (tree, diagnostics) = YAMLLoader().load(Array(text.utf8), file: "deep.yaml")
            XCTAssertLessThan(clock.now - start, .seconds(2), "input \(index)")
            XCTAssertEqual(diagnostics.count, 1, "input \(index): \(diagnostics)")
            let code = diagnostics.first?.code
            XCTAssertTrue(code == .nestingTooDeep || code == .yamlSyntax, "input \(index): \(diagnostics)")
            XCTAssertEqual(tree.documents, [], "input \(index)")
            XCTAssertGreaterThanOrEqual(diagnostics.first?.location.line ?? 0, 1)
            XCTAssertGreaterThanOrEqual(diagnostics.first?.location.column ?? 0, 1)
        }
        // The flow case names the bracket that goes one level too deep.
        let flow = YAMLLoader().load(Array(inputs[0].utf8), file: "deep.yaml").diagnostics
        XCTAssertEqual(flow.first?.location, SourceLocation(file: "deep.yaml", line: 1, column: LoaderLimits().maxDepth + 1))
    }

    func testRandomBytesWithNULsAreASyntaxError() {
        var random = SeededRandomSource(seed: 200)
        var bytes = (0..<200).map { _ in UInt8.random(in: 0...255, using: &random) }
        for index in stride(from: 3, to: 200, by: 17) {
            bytes[index] = 0
        }
        let (tree, diagnostics) = YAMLLoader().load(bytes, file: "noise.yaml")
        XCTAssertEqual(diagnostics.map(\.code), [.yamlSyntax], "\(diagnostics)")
        XCTAssertEqual(tree.documents, [])
        let line = diagnostics.first?.location.line ?? 0
        XCTAssertTrue((1...(bytes.count + 1)).contains(line), "line \(line)")
        XCTAssertGreaterThanOrEqual(diagnostics.first?.location.column ?? 0, 1)
    }

    func testErrorAtTheEndOfAFileWithoutAFinalNewlinePointsInsideTheFile() {
        // libyaml moves its mark to a new line when the stream ends; the diagnostic must
        // still name a line of the file (here the last, line 2), not the line after it.
        let cases = [
            "kind: User\nemail",                         // a key with no ':'
            "kind: Role\npermissions: [read",            // an unclosed flow sequence
            "kind: Role\npermissions: {streams: [read]", // an unclosed flow mapping
        ]
        for text in cases {
            let diagnostics = YAMLLoader().load(Array(text.utf8), file: "eof.yaml").diagnostics
            XCTAssertEqual(diagnostics.map(\.code), [.yamlSyntax], text.debugDescription)
            let location = diagnostics.first?.location
            let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
            XCTAssertEqual(location?.line, 2, "\(text.debugDescription): \(diagnostics)")
            XCTAssertTrue((1...(lastLine.count + 1)).contains(location?.column ?? 0), "\(text.debugDescription): \(diagnostics)")
        }
    }

    func testNULByteIsReportedWhereItIs() {
        let bytes = Array("kind: User\nemail: a".utf8) + [0] + Array("b@c.example\n".utf8)
        let diagnostics = YAMLLoader().load(bytes, file: "nul.yaml").diagnostics
        XCTAssertEqual(diagnostics.map(\.code), [.yamlSyntax])
        XCTAssertEqual(diagnostics.first?.location, SourceLocation(file: "nul.yaml", line: 2, column: 9))
    }

    func testInvalidUTF8IsASyntaxErrorAtTheBadByte() {
        // "email: ab" is 9 characters; 0xC3 starts a two-byte sequence that 0x28 '(' breaks.
        let bytes = Array("kind: User\nemail: ab".utf8) + [0xC3, 0x28] + Array("cd@x.example\n".utf8)
        let diagnostics = YAMLLoader().load(bytes, file: "utf8.yaml").diagnostics
        XCTAssertEqual(diagnostics.map(\.code), [.yamlSyntax], "\(diagnostics)")
        let location = diagnostics.first?.location
        XCTAssertEqual(location?.file, "utf8.yaml")
        XCTAssertEqual(location?.line, 2)
        // The column of the broken sequence (10), or of the byte that breaks it (11), which
        // the message names; nothing else.
        XCTAssertTrue([10, 11].contains(location?.column ?? 0), "\(diagnostics)")
        XCTAssertTrue(diagnostics.first?.message.contains("UTF-8") ?? false, diagnostics.first?.message ?? "")

        // Later in a longer file, on a later line, after multi-byte characters.
        let later = Array("# café — résumé\nkind: User\nname: Zoë\nemail: ab".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let laterDiagnostics = YAMLLoader().load(later, file: "utf8.yaml").diagnostics
        XCTAssertEqual(laterDiagnostics.map(\.code), [.yamlSyntax])
        XCTAssertEqual(laterDiagnostics.first?.location.line, 4)
        XCTAssertTrue([10, 11].contains(laterDiagnostics.first?.location.column ?? 0), "\(laterDiagnostics)")
    }

    func testTabIndentationIsASyntaxErrorThatSaysSo() {
        let text = "kind: Role\nid: admin\npermissions:\n\tstreams: [read]\n"
        let diagnostics = YAMLLoader().load(Array(text.utf8), file: "tabs.yaml").diagnostics
        XCTAssertEqual(diagnostics.map(\.code), [.yamlSyntax], "\(diagnostics)")
        XCTAssertEqual(diagnostics.first?.location, SourceLocation(file: "tabs.yaml", line: 4, column: 1))
        XCTAssertTrue(diagnostics.first?.message.contains("tab") ?? false, diagnostics.first?.message ?? "")

        let deeper = "kind: Role\nid: admin\npermissions:\n  streams:\n  \t- read\n"
        let deeperDiagnostics = YAMLLoader().load(Array(deeper.utf8), file: "tabs.yaml").diagnostics
        XCTAssertEqual(deeperDiagnostics.map(\.code), [.yamlSyntax], "\(deeperDiagnostics)")
        XCTAssertEqual(deeperDiagnostics.first?.location.line, 5)
        XCTAssertTrue(deeperDiagnostics.first?.message.contains("tab") ?? false, deeperDiagnostics.first?.message ?? "")
    }

    func testDuplicateKeyPointsAtTheSecondWithANoteAtTheFirst() {
        let text = "kind: User\nemail: a@b.example\nname: A\nemail: c@d.example\n"
        let diagnostics = YAMLLoader().load(Array(text.utf8), file: "dup.yaml").diagnostics
        XCTAssertEqual(diagnostics.map(\.code), [.duplicateKey])
        XCTAssertEqual(diagnostics.first?.location, SourceLocation(file: "dup.yaml", line: 4, column: 1))
        XCTAssertEqual(diagnostics.first?.notes,
                       [DiagnosticNote("first declared here", at: SourceLocation(file: "dup.yaml", line: 2, column: 1))])

        // Nested, and quoted against plain: the same key all the same.
        let nested = "kind: Role\nid: x\npermissions:\n  streams: [read]\n  \"streams\": [create]\n"
        let nestedDiagnostics = YAMLLoader().load(Array(nested.utf8), file: "dup.yaml").diagnostics
        XCTAssertEqual(nestedDiagnostics.map(\.code), [.duplicateKey])
        XCTAssertEqual(nestedDiagnostics.first?.location, SourceLocation(file: "dup.yaml", line: 5, column: 3))
        XCTAssertEqual(nestedDiagnostics.first?.notes.map(\.location),
                       [SourceLocation(file: "dup.yaml", line: 4, column: 3)])
    }

    // MARK: 3. Files too large, or not files

    func testHugeSourceFileIsRefusedWithoutReadingIt() throws {
        let root = try makeProject([
            "roster.yaml": "version: 1\nsources: [big.yaml, directory]\n",
            "directory/roles.yaml": "kind: Role\nid: viewer\npermissions: {}\n",
        ])
        let size: UInt64 = 100 << 20
        for path in ["big.yaml", "directory/huge.yml"] {
            let url = root.appendingPathComponent(path)
            XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: nil))
            let handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: size)
            try handle.close()
        }
        let clock = ContinuousClock()
        let start = clock.now
        let manifest = ManifestLoader(displayBase: root.path).load(configPath: root.appendingPathComponent("roster.yaml").path)
        XCTAssertLessThan(clock.now - start, .seconds(5))
        let tooLarge = manifest.diagnostics.filter { $0.code == .fileTooLarge }
        XCTAssertEqual(tooLarge.map(\.location).sorted(), [.file("big.yaml"), .file("directory/huge.yml")],
                       "\(manifest.diagnostics)")
        XCTAssertTrue(tooLarge.first?.message.contains("\(size) bytes") ?? false, tooLarge.first?.message ?? "")
        XCTAssertTrue(manifest.isIncomplete)
        // The small file next to them is still read.
        XCTAssertEqual(manifest.directory.roles.map(\.id.value), ["viewer"])
    }

    func testFIFOInASourceFolderDoesNotHang() throws {
        // A named pipe called *.yaml: opening it for reading blocks until a writer comes.
        let root = try makeProject([
            "roster.yaml": "version: 1\nsources: [directory]\n",
            "directory/roles.yaml": "kind: Role\nid: viewer\npermissions: {}\n",
        ])
        let fifo = root.appendingPathComponent("directory/pipe.yaml").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let configPath = root.appendingPathComponent("roster.yaml").path
        let displayBase = root.path
        let result = DiagnosticsBox()
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.diagnostics = ManifestLoader(displayBase: displayBase).load(configPath: configPath).diagnostics
            done.signal()
        }.start()
        let finished = done.wait(timeout: .now() + 5) == .success
        if !finished {
            // Let the blocked open return and read end of file, so the thread ends with the test.
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            _ = done.wait(timeout: .now() + 5)
        }
        XCTAssertTrue(finished, "ManifestLoader blocked reading a FIFO source")
        XCTAssertEqual(result.diagnostics.filter { $0.code == .unreadableFile }.map(\.location),
                       [.file("directory/pipe.yaml")], "\(result.diagnostics)")
    }

    // MARK: 4. Norway

    func testScalarsStayTheStringsWritten() throws {
        let root = try makeProject([
            "roster.yaml": """
            version: 1
            sources: [directory]
            permissions:
              streams: [read, "on", no]
            invitations:
              reissueExpired: no
              maxReissues: 017
            safety:
              maxUserDeactivations: 017
            limits:
              accountsPerCustomer: 010
              membersPerAccount: 1000

            """,
            "directory/norway.yaml": """
            kind: Role
            id: yes
            name: no
            description: ~
            permissions:
              streams: [no, on]
            ---
            kind: Role
            id: on
            name: "~"
            permissions:
              streams: [read]
            ---
            kind: User
            email: alice@no.example
            name: Off
            ---
            kind: User
            email: bob@on.example
            name: 0x1F
            ---
            kind: Customer
            id: no
            name: yes
            owner: alice@no.example
            members:
              - user: bob@on.example
                roles: [yes, on]
                expires: 2030-01-01
            ---
            kind: Account
            id: on
            customer: no
            name: "null"
            service: on
            members:
              - user: bob@on.example
                roles: [on]
            ---
            kind: Account
            id: 017
            customer: no
            name: 1e3
            service: 1e3
            limits: {members: 017}
            ---
            kind: Account
            id: 1e3
            customer: "no"
            name: true
            service: .inf

            """,
        ])
        let manifest = ManifestLoader(displayBase: root.path).load(configPath: root.appendingPathComponent("roster.yaml").path)
        XCTAssertEqual(manifest.diagnostics, [])

        let config = manifest.config
        XCTAssertEqual(config.permissions.actions(of: "streams"), ["read", "on", "no"])
        XCTAssertEqual(config.invitations.reissueExpired, false)
        XCTAssertEqual(config.invitations.maxReissues, 17)
        XCTAssertEqual(config.safety.maxUserDeactivations, .count(17))
        XCTAssertEqual(config.limits.accountsPerCustomer, 10)
        XCTAssertEqual(config.limits.membersPerAccount, 1_000)

        let directory = manifest.directory
        XCTAssertEqual(directory.roles.map(\.id.value), ["yes", "on"])
        XCTAssertEqual(directory.roles.map(\.name), ["no", "~"])
        XCTAssertEqual(directory.roles.map(\.description), [nil, nil])
        XCTAssertEqual(directory.roles.first?.permissions.first?.actions.map(\.value), ["no", "on"])
        XCTAssertEqual(directory.users.map(\.name), ["Off", "0x1F"])
        XCTAssertEqual(directory.customers.map(\.id.value), ["no"])
        XCTAssertEqual(directory.customers.map(\.name), ["yes"])
        XCTAssertEqual(directory.customers.first?.members.first?.roles.map(\.value), ["yes", "on"])
        XCTAssertEqual(directory.customers.first?.members.first?.expires?.value, Day(year: 2030, month: 1, day: 1))
        XCTAssertEqual(directory.accounts.map(\.id.value), ["on", "017", "1e3"])
        XCTAssertEqual(directory.accounts.map(\.customer.value), ["no", "no", "no"])
        XCTAssertEqual(directory.accounts.map(\.name), ["null", "1e3", "true"])
        XCTAssertEqual(directory.accounts.map(\.service), ["on", "1e3", ".inf"])
        XCTAssertEqual(directory.accounts.map { $0.memberLimit?.value }, [nil, 17, nil])

        let diagnostics = Validator(config: config, directory: directory, today: Self.today).run()
        XCTAssertFalse(diagnostics.hasErrors, "\(diagnostics)")
    }
}
