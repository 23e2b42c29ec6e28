import Foundation
import XCTest

final class ValidateCommandTests: XCTestCase {
    let invalid = Paths.fixture("invalid")

    func testTextOutputMatchesGolden() {
        let result = roster(["validate"], in: invalid)
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.stderr, "")
        assertGolden(result.stdout, named: "validate-invalid.txt")
    }

    func testJSONOutputMatchesGolden() {
        let result = roster(["validate", "--format", "json"], in: invalid)
        XCTAssertEqual(result.status, 3)
        assertGolden(result.stdout, named: "validate-invalid.json")
    }

    func testGitHubOutputMatchesGolden() {
        let result = roster(["validate", "--format", "github"], in: invalid)
        XCTAssertEqual(result.status, 3)
        assertGolden(result.stdout, named: "validate-invalid.github.txt")
    }

    func testSameInputGivesByteIdenticalOutput() {
        for format in ["text", "json", "github"] {
            let first = roster(["validate", "--format", format], in: invalid).stdout
            let second = roster(["validate", "--format", format], in: invalid).stdout
            XCTAssertEqual(first, second, format)
        }
    }

    func testExamplesValidateClean() {
        for example in ["quickstart", "reseller-platform"] {
            let result = roster(["validate", "--config", "examples/\(example)/roster.yaml"], in: Paths.packageRoot)
            XCTAssertEqual(result.status, 0, "\(example):\n\(result.stdout)\(result.stderr)")
            XCTAssertTrue(result.stdout.contains(": 0 errors, 0 warnings."), "\(example):\n\(result.stdout)")
        }
    }

    func testConfigIsFoundWalkingUp() {
        let result = roster(["validate"], in: invalid + "/directory/customers")
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stdout.hasPrefix("../../directory/") || result.stdout.contains("acme.yaml:4:8"), result.stdout)
    }

    func testMissingConfigIsReportedWithWhatToDo() throws {
        let empty = FileManager.default.temporaryDirectory.path + "/roster-empty-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let result = roster(["validate"], in: empty)
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stdout.contains("[config-not-found]"), result.stdout)
        XCTAssertTrue(result.stdout.contains("roster init"), result.stdout)

        let explicit = roster(["validate", "--config", "nowhere/roster.yaml"], in: empty)
        XCTAssertEqual(explicit.status, 3)
        XCTAssertTrue(explicit.stdout.contains("nowhere/roster.yaml: error: cannot read file"), explicit.stdout)
    }

    func testUsageErrorsExit64() {
        XCTAssertEqual(roster(["validate", "--format", "markdown"], in: invalid).status, 64)
        XCTAssertEqual(roster(["validate", "--format", "yaml"], in: invalid).status, 64)
        XCTAssertEqual(roster(["validate", "--bogus"], in: invalid).status, 64)
        XCTAssertEqual(roster(["frobnicate"], in: invalid).status, 64)
        // A format a command cannot print is refused, not silently replaced by text.
        for arguments in [["show", "--format", "markdown"], ["history", "--format", "markdown"], ["audit", "verify", "--format", "github"],
                          ["version", "--format", "markdown"], ["invitations", "list", "--format", "github"],
                          ["deliver", "--format", "markdown"], ["plan", "--format", "github"], ["apply", "--format", "json"],
                          ["outbox", "--format", "github"]] {
            let result = roster(arguments, in: invalid)
            XCTAssertEqual(result.status, 64, arguments.joined(separator: " "))
            XCTAssertTrue(result.stderr.contains("--format \(arguments[arguments.count - 1]) is not available here; this command prints"),
                          result.stderr)
        }
    }

    /// Each command's help names exactly the formats it prints (issue 13): no promise it refuses.
    func testHelpListsExactlyTheFormatsEachCommandPrints() {
        let expected: [String: String] = [
            "validate": "text, json or github", "plan": "text, json or markdown", "diff": "text, json or markdown",
            "apply": "Output format: text.", "show": "text or json", "history": "text or json", "audit verify": "text or json",
            "invitations list": "text or json", "outbox": "text or json", "deliver": "text or json", "version": "text or json",
            "invitations accept": "Output format: text.",
        ]
        for (command, formats) in expected {
            let help = roster(command.split(separator: " ").map(String.init) + ["--help"], in: invalid).stdout
            let flattened = help.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertTrue(flattened.contains(formats), "\(command) --help:\n\(help)")
            XCTAssertFalse(flattened.contains("text, json, markdown or github"), "\(command) --help:\n\(help)")
        }
    }

    func testEveryCommandHasHelpWithAnExample() {
        for command in ["init", "validate", "plan", "apply", "diff", "show", "history", "audit", "audit verify",
                        "invitations", "invitations list", "invitations accept", "invitations resend",
                        "invitations revoke", "deliver", "outbox", "schema", "version"] {
            let result = roster(command.split(separator: " ").map(String.init) + ["--help"], in: invalid)
            XCTAssertEqual(result.status, 0, command)
            XCTAssertTrue(result.stdout.contains("Example"), "\(command) --help:\n\(result.stdout)")
        }
    }

    func testVersion() {
        XCTAssertTrue(roster(["version"], in: invalid).stdout.hasPrefix("roster "))
        XCTAssertEqual(roster(["version", "--format", "json"], in: invalid).status, 0)
    }

    func testColourOnlyOnRequestAndNeverWithNoColor() {
        let escape = "\u{1B}["
        XCTAssertFalse(roster(["validate"], in: invalid).stdout.contains(escape), "no colour without a terminal")
        XCTAssertTrue(roster(["validate"], in: invalid, terminal: true).stdout.contains(escape))
        XCTAssertFalse(roster(["validate"], in: invalid, variables: ["NO_COLOR": "1"], terminal: true)
            .stdout.contains(escape))
        XCTAssertFalse(roster(["validate", "--no-color"], in: invalid, terminal: true).stdout.contains(escape))
    }

    /// An alias bomb, a 100 MB file and a binary file: each is a diagnostic and exit 3, in seconds.
    func testHostileFilesExit3Quickly() throws {
        let root = FileManager.default.temporaryDirectory.path + "/roster-hostile-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/directory", withIntermediateDirectories: true)
        try "version: 1\nsources: [directory]\npermissions: {streams: [read]}\n"
            .write(toFile: root + "/roster.yaml", atomically: true, encoding: .utf8)
        var bomb = "kind: Role\nid: bomb\npermissions: {}\ndescription: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            bomb += "d\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let cases: [(name: String, write: (String) throws -> Void, code: String)] = [
            ("bomb.yaml", { try bomb.write(toFile: $0, atomically: true, encoding: .utf8) }, "alias-budget"),
            ("huge.yaml", { path in
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
                try handle.truncate(atOffset: 100 << 20)
                try handle.close()
            }, "file-too-large"),
            ("binary.yaml", { path in
                var generator = SystemRandomNumberGenerator()
                let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) } + [0, 0xFF, 0xFE]
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }, "yaml-syntax"),
        ]
        for item in cases {
            let path = root + "/directory/" + item.name
            try item.write(path)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let started = Date()
            let result = roster(["validate"], in: root)
            XCTAssertEqual(result.status, 3, item.name)
            XCTAssertTrue(result.stdout.contains("directory/\(item.name)") && result.stdout.contains("[\(item.code)]"),
                          "\(item.name):\n\(result.stdout)")
            XCTAssertLessThan(Date().timeIntervalSince(started), 10, item.name)
        }
    }

    /// A syntax error in roster.yaml is reported alone, not with made-up consequences.
    func testSyntaxErrorInRosterYAMLIsTheOnlyError() throws {
        let root = FileManager.default.temporaryDirectory.path + "/roster-config-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "version: 1\nsources: [directory\npermissions: {}\n".write(toFile: root + "/roster.yaml", atomically: true, encoding: .utf8)
        let result = roster(["validate"], in: root)
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stdout.contains("[yaml-syntax]"), result.stdout)
        XCTAssertFalse(result.stdout.contains("[missing-field]"), result.stdout)
    }
}
