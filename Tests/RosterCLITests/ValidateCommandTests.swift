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
    }

    func testEveryCommandHasHelpWithAnExample() {
        for command in ["validate", "version"] {
            let result = roster([command, "--help"], in: invalid)
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
}
