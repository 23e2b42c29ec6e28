import Foundation
import XCTest

/// `roster init`: a project that validates clean and plans at once, and never overwrites.
final class InitTests: XCTestCase {
    private var folder = ""

    static let files = ["roster.yaml", "directory/roles.yaml", "directory/users.yaml", "directory/customers/example.yaml",
                        ".gitignore", ".github/workflows/roster.yml"]

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.path + "/roster-init-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func testInitInAnEmptyFolderValidatesCleanAndPlans() throws {
        let created = roster(["init"], in: folder)
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(created.stderr, "")
        XCTAssertEqual(contents(of: folder).keys.sorted(), Self.files.sorted())
        for file in Self.files {
            XCTAssertTrue(created.stdout.contains("  \(file)\n"), "\(file) not listed:\n\(created.stdout)")
        }
        XCTAssertTrue(created.stdout.contains("roster validate"), created.stdout)
        XCTAssertTrue(created.stdout.contains("roster plan"), created.stdout)

        let validate = roster(["validate"], in: folder)
        XCTAssertEqual(validate.status, 0, validate.stdout)
        XCTAssertEqual(validate.stdout, "Validated 3 files (7 roles, 5 users, 1 customer, 1 account): 0 errors, 0 warnings.\n")

        let state = "sqlite:\(folder)/.roster/state.db"
        let plan = roster(["plan", "--state", state, "--detailed-exitcode"], in: folder)
        XCTAssertEqual(plan.status, 2, plan.stderr)
        XCTAssertTrue(plan.stderr.hasPrefix("note: created a new, empty store at "), "a new store is announced: \(plan.stderr)")
        XCTAssertEqual(plan.stderr.split(separator: "\n").count, 1, "and nothing else: \(plan.stderr)")
        XCTAssertTrue(plan.stdout.hasSuffix("Plan: 9 to create, 5 to invite, 4 to change.\n"), plan.stdout)

        // And it applies, to nothing left to do.
        let apply = roster(["apply", "--state", state, "--auto-approve"], in: folder)
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout)
        let again = roster(["plan", "--state", state, "--detailed-exitcode"], in: folder)
        XCTAssertEqual(again.status, 0, again.stdout)
    }

    /// The repository holds no SPEC: what the generated files cite must exist.
    func testGeneratedFilesCiteTheReadmeNotASpec() throws {
        XCTAssertEqual(roster(["init"], in: folder).status, 0)
        let config = try String(contentsOfFile: folder + "/roster.yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("under \"The files\" in roster's README.md"), config)
        let readme = try String(contentsOfFile: Paths.packageRoot + "/README.md", encoding: .utf8)
        XCTAssertTrue(readme.contains("\n## The files\n"), "the README section the config names")
        for (path, text) in contents(of: folder) {
            XCTAssertFalse(String(decoding: text, as: UTF8.self).contains("SPEC"), "\(path) cites SPEC")
        }
    }

    func testEveryCommonRoleIsDeclaredAndUsed() throws {
        XCTAssertEqual(roster(["init"], in: folder).status, 0)
        let roles = try String(contentsOfFile: folder + "/directory/roles.yaml", encoding: .utf8)
        let customer = try String(contentsOfFile: folder + "/directory/customers/example.yaml", encoding: .utf8)
        for role in ["admin", "system-integrator", "payment-management", "reporting", "creator", "viewer", "ecommerce-viewer"] {
            XCTAssertTrue(roles.contains("\nid: \(role)\n"), role)
            XCTAssertTrue(customer.range(of: "roles: \\[([a-z-]+, )*\(role)(, [a-z-]+)*\\]", options: .regularExpression) != nil,
                          "\(role) is not used")
        }
        // The quickstart's roles, permissions and all: only the comment at the top differs.
        let quickstart = try String(contentsOfFile: Paths.packageRoot + "/examples/quickstart/directory/roles.yaml", encoding: .utf8)
        XCTAssertEqual(Self.withoutComments(roles), Self.withoutComments(quickstart))
    }

    func testWorkflowIsTheGitHubActionsExample() throws {
        XCTAssertEqual(roster(["init"], in: folder).status, 0)
        let written = try Data(contentsOf: URL(fileURLWithPath: folder + "/.github/workflows/roster.yml"))
        let example = try Data(contentsOf: URL(fileURLWithPath: Paths.packageRoot + "/examples/ci/github-actions.yml"))
        XCTAssertEqual(written, example, "roster init must write examples/ci/github-actions.yml as it is")
        let ignore = try String(contentsOfFile: folder + "/.gitignore", encoding: .utf8)
        XCTAssertTrue(ignore.split(separator: "\n").contains(".roster/"), ignore)
    }

    func testASecondInitChangesNothingAndNamesEveryFile() throws {
        XCTAssertEqual(roster(["init"], in: folder).status, 0)
        try "# mine\nversion: 1\nsources: [directory]\n".write(toFile: folder + "/roster.yaml", atomically: true, encoding: .utf8)
        let before = contents(of: folder)

        let again = roster(["init"], in: folder)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stdout, "")
        for file in Self.files where file != ".gitignore" {
            XCTAssertTrue(again.stderr.contains("'\(file)'"), "\(file) not named:\n\(again.stderr)")
        }
        XCTAssertFalse(again.stderr.contains("overwrite '.gitignore'"), "an existing .gitignore is added to, not refused")
        XCTAssertTrue(again.stderr.contains("('.gitignore' is not in the way: init adds '.roster/' to an existing one)"),
                      "the refusal says why .gitignore is not named:\n\(again.stderr)")
        XCTAssertTrue(again.stderr.contains("nothing was written"), again.stderr)
        XCTAssertEqual(contents(of: folder), before)
    }

    func testOneExistingFileStopsEverything() throws {
        try "version: 1\n".write(toFile: folder + "/roster.yaml", atomically: true, encoding: .utf8)
        try "node_modules/\n".write(toFile: folder + "/.gitignore", atomically: true, encoding: .utf8)
        let result = roster(["init"], in: folder)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("'roster.yaml'"), result.stderr)
        XCTAssertEqual(contents(of: folder), [".gitignore": Data("node_modules/\n".utf8), "roster.yaml": Data("version: 1\n".utf8)],
                       "nothing else written, the .gitignore untouched")
    }

    func testAnExistingGitignoreGetsTheStoreAddedOnce() throws {
        try "node_modules/".write(toFile: folder + "/.gitignore", atomically: true, encoding: .utf8)
        let first = roster(["init"], in: folder)
        XCTAssertEqual(first.status, 0)
        XCTAssertTrue(first.stdout.contains("\n  .gitignore  (existing: .roster/ added to it)\n"), first.stdout)
        let ignore = try String(contentsOfFile: folder + "/.gitignore", encoding: .utf8)
        XCTAssertTrue(ignore.hasPrefix("node_modules/\n"), ignore)
        XCTAssertEqual(ignore.split(separator: "\n").filter { $0 == ".roster/" }.count, 1, ignore)

        let other = folder + "/again"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "build/\n.roster/\n".write(toFile: other + "/.gitignore", atomically: true, encoding: .utf8)
        let second = roster(["init"], in: other)
        XCTAssertEqual(second.status, 0)
        XCTAssertTrue(second.stdout.contains("\n  .gitignore  (existing: already ignores .roster/)\n"), second.stdout)
        XCTAssertEqual(try String(contentsOfFile: other + "/.gitignore", encoding: .utf8), "build/\n.roster/\n")
    }

    func testDanglingSymbolicLinkCountsAsExisting() throws {
        try FileManager.default.createSymbolicLink(atPath: folder + "/roster.yaml", withDestinationPath: folder + "/elsewhere.yaml")
        let result = roster(["init"], in: folder)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("'roster.yaml'"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/elsewhere.yaml"), "wrote through the link")
    }

    func testDirectoryOptionCreatesTheFolder() throws {
        let result = roster(["init", "--directory", "access/prod"], in: folder)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("  access/prod/roster.yaml\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("cd access/prod"), result.stdout)
        XCTAssertEqual(contents(of: folder + "/access/prod").keys.sorted(), Self.files.sorted())
        let validate = roster(["validate", "--config", "access/prod/roster.yaml"], in: folder)
        XCTAssertEqual(validate.status, 0, validate.stdout)
        XCTAssertTrue(validate.stdout.hasSuffix(": 0 errors, 0 warnings.\n"), validate.stdout)

        let again = roster(["init", "--directory", folder + "/access/prod"], in: "/")
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("'\(folder)/access/prod/roster.yaml'"), again.stderr)
    }

    func testUsageErrors() {
        XCTAssertEqual(roster(["init", "--format", "json"], in: folder).status, 64)
        XCTAssertEqual(roster(["init", "--config", "x/roster.yaml"], in: folder).status, 64)
        XCTAssertEqual(contents(of: folder), [:])
        let help = roster(["init", "--help"], in: folder)
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("roster init --directory"), help.stdout)
    }

    // MARK: Helpers

    /// Every file below `root` (hidden ones too) with its bytes, by relative path.
    private func contents(of root: String) -> [String: Data] {
        var files: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let path = walker?.nextObject() as? String {
            var isFolder: ObjCBool = false
            let full = root + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue {
                files[path] = FileManager.default.contents(atPath: full)
            }
        }
        return files
    }

    private static func withoutComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
    }
}
