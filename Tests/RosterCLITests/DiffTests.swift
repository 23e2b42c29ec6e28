import Foundation
import RosterCore
import XCTest

/// `roster diff` on real git repositories whose roster.yaml lives in a subfolder: renames,
/// removals, role changes, the working tree, bad revisions, invalid files, the markdown cap,
/// and never a store.
final class DiffTests: XCTestCase {
    private var repo: GitRepository!
    private var history = History()
    private var start: String { history.start }
    private var addCarol: String { history.addCarol }
    private var renameBob: String { history.renameBob }
    private var removeCarol: String { history.removeCarol }
    private var widenViewer: String { history.widenViewer }

    /// The commits of `makeHistory`, by what they do.
    struct History: Sendable {
        var start = "", addCarol = "", renameBob = "", removeCarol = "", widenViewer = "", broken = ""
    }

    /// The repository is made once; each test works on its own copy.
    private static let template = Result { () throws -> (root: String, history: History) in
        let repo = try GitRepository()
        return (repo.root, try makeHistory(in: repo))
    }

    override func setUpWithError() throws {
        let template = try Self.template.get()
        repo = try GitRepository(copying: template.root, commits: 6)
        history = template.history
    }

    override func tearDownWithError() throws {
        if let repo {
            XCTAssertEqual(repo.rosterFolders(), [], "roster diff must never create a store")
            try? FileManager.default.removeItem(atPath: repo.root)
        }
    }

    override class func tearDown() {
        if case .success(let template) = template { try? FileManager.default.removeItem(atPath: template.root) }
        super.tearDown()
    }

    // MARK: Changes and access between revisions

    func testAddingAUserAndMembershipInvitesAndGrants() throws {
        let plan = try diffPlan(from: start, to: addCarol)
        XCTAssertEqual(actions(plan), ["invite user carol@acme.example",
                                       "grant membership carol@acme.example@account:acme-live"])
        XCTAssertEqual(access(plan), ["carol@acme.example gains streams:read on account acme-live"])
        let grant = try XCTUnwrap(plan.changes.first { $0.action == .grant })
        XCTAssertEqual(grant.source, "access/directory/customers/acme.yaml:13:5",
                       "where the --to files declare it, relative to where roster runs")
    }

    func testRenameCarriesTheUserOver() throws {
        let plan = try diffPlan(from: addCarol, to: renameBob)
        XCTAssertEqual(actions(plan), ["rename user robert@acme.example"])
        let rename = try XCTUnwrap(plan.changes.first)
        guard case .user(let before) = rename.before, case .user(let after) = rename.after else {
            return XCTFail("a rename moves a user: \(rename)")
        }
        XCTAssertEqual(before.email, "bob@acme.example")
        XCTAssertEqual(after.email, "robert@acme.example")
        XCTAssertEqual(access(plan), [], "a rename changes nobody's access")
    }

    func testRemovingAUserDeactivatesAndRevokes() throws {
        let plan = try diffPlan(from: renameBob, to: removeCarol)
        XCTAssertEqual(actions(plan), ["revoke membership carol@acme.example@account:acme-live",
                                       "deactivate user carol@acme.example"])
        XCTAssertEqual(access(plan), ["carol@acme.example loses streams:read on account acme-live"])
    }

    func testChangingARolesPermissionsChangesEveryHoldersAccess() throws {
        let plan = try diffPlan(from: removeCarol, to: widenViewer)
        XCTAssertEqual(actions(plan), ["update role viewer"])
        XCTAssertEqual(access(plan), ["robert@acme.example gains analytics:read on account acme-live"])
    }

    func testSeveralCommitsAtOnce() throws {
        let plan = try diffPlan(from: start, to: widenViewer)
        XCTAssertEqual(actions(plan), ["update role viewer", "rename user robert@acme.example"])
        XCTAssertEqual(access(plan), ["robert@acme.example gains analytics:read on account acme-live"])
    }

    func testSameRevisionHasNoChanges() throws {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", widenViewer, "--to", "HEAD"], in: repo.root)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "No changes. The store matches the files.\n")
    }

    // MARK: The working tree

    func testWithoutToComparesWithTheUncommittedFiles() throws {
        try repo.write("access/directory/customers/acme.yaml",
                       Self.customer(members: [("robert@acme.example", "viewer"), ("alice@acme.example", "viewer")]))
        // From inside the project's subfolder: roster.yaml is found walking up.
        let result = roster(["diff", "--from", "HEAD", "--format", "json"], in: repo.root + "/access/directory")
        XCTAssertEqual(result.status, 0, result.stderr)
        let plan = try Plan.read(json: Data(result.stdout.utf8))
        XCTAssertEqual(actions(plan), ["grant membership alice@acme.example@account:acme-live"])
        XCTAssertEqual(plan.changes.first?.source, "customers/acme.yaml:13:5",
                       "working-tree locations are plain paths, relative to where roster runs")
        // The owner already holds everything on the account: the grant adds no access.
        XCTAssertEqual(access(plan), [])
    }

    // MARK: Problems

    func testUnknownRevisionIsAUsageErrorNamingIt() {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", "no-such-branch"], in: repo.root)
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("'no-such-branch'"), result.stderr)
        XCTAssertEqual(result.stdout, "")

        let to = roster(["diff", "--config", "access/roster.yaml", "--from", start, "--to", "v9.9"], in: repo.root)
        XCTAssertEqual(to.status, 64)
        XCTAssertTrue(to.stderr.contains("'v9.9'"), to.stderr)
    }

    func testFilesInvalidAtOneRevisionAreReportedUnderThatRevision() {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", start, "--to", "broken"], in: repo.root)
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertEqual(result.stdout, "")
        let diagnostics = result.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        XCTAssertEqual(diagnostics.count, 1, result.stderr)
        XCTAssertTrue(diagnostics.allSatisfy { $0.hasPrefix("broken:access/directory/users.yaml:") }, result.stderr)
        XCTAssertTrue(result.stderr.contains("'nmae'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("invalid at broken"), result.stderr)

        // The other way round names the other side.
        let back = roster(["diff", "--config", "access/roster.yaml", "--from", "broken", "--to", widenViewer], in: repo.root)
        XCTAssertEqual(back.status, 3)
        XCTAssertTrue(back.stderr.contains("broken:access/directory/users.yaml:"), back.stderr)
    }

    func testGithubFormatIsRefused() {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", start, "--format", "github"], in: repo.root)
        XCTAssertEqual(result.status, 64)
    }

    // MARK: Output

    func testTextMatchesGolden() {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", start, "--to", widenViewer], in: repo.root)
        XCTAssertEqual(result.status, 0, result.stderr)
        assertGolden(result.stdout, named: "diff-history.txt")
    }

    func testMarkdownMatchesGolden() {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", start, "--to", widenViewer,
                             "--format", "markdown"], in: repo.root)
        XCTAssertEqual(result.status, 0, result.stderr)
        assertGolden(result.stdout, named: "diff-history.md")
    }

    func testSameRevisionsGiveByteIdenticalOutput() {
        for format in ["text", "json", "markdown"] {
            let arguments = ["diff", "--config", "access/roster.yaml", "--from", start, "--to", widenViewer, "--format", format]
            XCTAssertEqual(roster(arguments, in: repo.root).stdout, roster(arguments, in: repo.root).stdout, format)
        }
    }

    func testMarkdownOfThreeThousandUsersStaysUnderTheLimitAndSaysWhatWasFolded() throws {
        let count = 3_000
        let emails = (1...count).map { String(format: "user%04d@acme.example", $0) }
        try repo.write("access/roster.yaml", Self.config + "limits: {membersPerAccount: 5000}\n")
        let base = try repo.commit("raise the member limit")
        try repo.write("access/directory/users.yaml",
                       Self.users(["alice@acme.example", "robert@acme.example"] + emails, previous: ["robert@acme.example": "bob@acme.example"]))
        try repo.write("access/directory/customers/acme.yaml",
                       Self.customer(members: [("robert@acme.example", "viewer")] + emails.map { ($0, "viewer") }))
        let big = try repo.commit("three thousand viewers")

        let result = roster(["diff", "--config", "access/roster.yaml", "--from", base, "--to", big, "--format", "markdown"],
                            in: repo.root)
        XCTAssertEqual(result.status, 0, result.stderr)
        let markdown = result.stdout
        XCTAssertLessThan(markdown.count, 60_000)
        XCTAssertTrue(markdown.contains("| invite | 3,000 |"), String(markdown.prefix(1_000)))
        XCTAssertTrue(markdown.contains("| grant | 3,000 |"), String(markdown.prefix(1_000)))
        XCTAssertTrue(markdown.contains("_Parts of this plan are folded"), String(markdown.prefix(1_000)))
        XCTAssertTrue(markdown.contains("The list of all 6,000 changes is folded"), String(markdown.suffix(1_000)))
        XCTAssertTrue(markdown.contains("more access changes not shown"), String(markdown.suffix(1_000)))

        let json = roster(["diff", "--config", "access/roster.yaml", "--from", base, "--to", big, "--format", "json"],
                          in: repo.root)
        let plan = try Plan.read(json: Data(json.stdout.utf8))
        XCTAssertEqual(plan.accessDelta.count, count, "the JSON keeps every access change")
    }

    // MARK: The history

    /// Six commits, the roster project in `access/`; `broken` is a branch whose files are invalid.
    private static func makeHistory(in repo: GitRepository) throws -> History {
        var history = History()
        try repo.write("README.md", "Access for ACME.\n")
        try repo.write("access/roster.yaml", Self.config)
        try repo.write("access/directory/roles.yaml", Self.roles(viewer: "streams: [read]"))
        try repo.write("access/directory/users.yaml", Self.users(["alice@acme.example", "bob@acme.example"]))
        try repo.write("access/directory/customers/acme.yaml", Self.customer(members: [("bob@acme.example", "viewer")]))
        history.start = try repo.commit("start: alice owns acme, bob views acme-live")

        try repo.write("access/directory/users.yaml",
                       Self.users(["alice@acme.example", "bob@acme.example", "carol@acme.example"]))
        try repo.write("access/directory/customers/acme.yaml",
                       Self.customer(members: [("bob@acme.example", "viewer"), ("carol@acme.example", "viewer")]))
        history.addCarol = try repo.commit("add carol as a viewer")

        try repo.write("access/directory/users.yaml",
                       Self.users(["alice@acme.example", "robert@acme.example", "carol@acme.example"],
                                  previous: ["robert@acme.example": "bob@acme.example"]))
        try repo.write("access/directory/customers/acme.yaml",
                       Self.customer(members: [("robert@acme.example", "viewer"), ("carol@acme.example", "viewer")]))
        history.renameBob = try repo.commit("bob is robert now")

        try repo.write("access/directory/users.yaml",
                       Self.users(["alice@acme.example", "robert@acme.example"], previous: ["robert@acme.example": "bob@acme.example"]))
        try repo.write("access/directory/customers/acme.yaml", Self.customer(members: [("robert@acme.example", "viewer")]))
        history.removeCarol = try repo.commit("carol left")

        try repo.write("access/directory/roles.yaml", Self.roles(viewer: "streams: [read]\n  analytics: [read]"))
        history.widenViewer = try repo.commit("viewers see analytics")

        try repo.git("checkout", "-q", "-b", "broken")
        try repo.write("access/directory/users.yaml",
                       Self.users(["alice@acme.example", "robert@acme.example"], previous: ["robert@acme.example": "bob@acme.example"])
                        + "nmae: typo\n")
        history.broken = try repo.commit("a typo")
        try repo.git("checkout", "-q", "main")
        return history
    }

    static let config = """
        version: 1
        sources: [directory]
        permissions:
          streams: [create, read, update, delete]
          analytics: [read]

        """

    static func roles(viewer permissions: String) -> String {
        "kind: Role\nid: viewer\nname: Viewer\npermissions:\n  \(permissions)\n"
    }

    static func users(_ emails: [String], previous: [String: String] = [:]) -> String {
        emails.map { email in
            "kind: User\nemail: \(email)\n" + (previous[email].map { "previousEmails: [\($0)]\n" } ?? "")
        }.joined(separator: "---\n")
    }

    /// acme, owned by alice, and its account acme-live with `members` (the second one at line 13, column 5).
    static func customer(members: [(String, String)]) -> String {
        """
        kind: Customer
        id: acme
        name: ACME
        owner: alice@acme.example
        ---
        kind: Account
        id: acme-live
        customer: acme
        service: video-streaming
        members:

        """ + members.map { "  - user: \($0.0)\n    roles: [\($0.1)]\n" }.joined()
    }

    // MARK: Helpers

    private func diffPlan(from: String, to: String, file: StaticString = #filePath, line: UInt = #line) throws -> Plan {
        let result = roster(["diff", "--config", "access/roster.yaml", "--from", from, "--to", to, "--format", "json"],
                            in: repo.root)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr, "", file: file, line: line)
        return try Plan.read(json: Data(result.stdout.utf8))
    }

    private func actions(_ plan: Plan) -> [String] {
        plan.changes.map { "\($0.action.rawValue) \($0.type.rawValue) \($0.id)" }
    }

    private func access(_ plan: Plan) -> [String] {
        plan.accessDelta.map { row in
            "\(row.user) \(row.change == .gain ? "gains" : "loses") \(row.permissions.joined(separator: ", ")) on \(row.scope)"
        }
    }
}

/// A git repository in a temporary folder, with fixed names and dates so commit ids are the
/// same on every run (the golden files show them).
final class GitRepository {
    let root: String
    private var commits = 0

    init() throws {
        root = FileManager.default.temporaryDirectory.path + "/roster-diff-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
    }

    /// A copy of the repository at `source`, which has `commits` commits.
    init(copying source: String, commits: Int) throws {
        root = FileManager.default.temporaryDirectory.path + "/roster-diff-test-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: source, toPath: root)
        self.commits = commits
    }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", root, "-c", "user.name=Roster Test", "-c", "user.email=test@roster.example",
                             "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"] + arguments
        let date = "2026-01-01T12:\(String(format: "%02d", commits)):00Z"
        var variables = ProcessInfo.processInfo.environment
        variables["GIT_AUTHOR_DATE"] = date
        variables["GIT_COMMITTER_DATE"] = date
        variables["GIT_CONFIG_NOSYSTEM"] = "1"
        variables["GIT_CONFIG_GLOBAL"] = "/dev/null"
        process.environment = variables
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "git", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "git \(arguments.joined(separator: " ")): \(text)"])
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// Commits everything and returns the commit id.
    func commit(_ message: String) throws -> String {
        commits += 1
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    /// Every folder named `.roster` below the root (the store's default home).
    func rosterFolders() -> [String] {
        let walker = FileManager.default.enumerator(atPath: root)
        var found: [String] = []
        while let path = walker?.nextObject() as? String {
            if (path as NSString).lastPathComponent == ".roster" { found.append(path) }
        }
        return found
    }
}
