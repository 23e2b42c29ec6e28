import Foundation
import XCTest

/// An owner or member whose User document was deleted is reported as removed, with where it
/// was declared at HEAD, and never "did you mean" another person.
final class RemovedUserTests: XCTestCase {
    private var repo: GitRepository!

    static let config = "version: 1\nsources: [directory]\npermissions: {streams: [read]}\n"
    static let roles = "kind: Role\nid: viewer\npermissions: {streams: [read]}\n"
    static let adam = "kind: User\nemail: adam@example.com\n---\n"
    static let users = "kind: User\nemail: sam@example.com\n---\nkind: User\nemail: ann@example.com\n"
    static let customer = """
    kind: Customer
    id: acme
    owner: ann@example.com
    members:
      - user: sam@example.com
        roles: [viewer]
      - user: adam@example.com
        roles: [viewer]

    """

    override func setUpWithError() throws {
        repo = try GitRepository()
        try repo.write("roster.yaml", Self.config)
        try repo.write("directory/roles.yaml", Self.roles)
        try repo.write("directory/users.yaml", Self.adam + Self.users)
        try repo.write("directory/acme.yaml", Self.customer)
        _ = try repo.commit("start")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: repo.root)
    }

    func testMemberRemovedSinceHeadSaysSoAndPointsAtHead() throws {
        try repo.write("directory/users.yaml", Self.users)
        let result = roster(["validate"], in: repo.root)
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.stdout, """
        directory/acme.yaml:7:11: error: member 'adam@example.com' is no longer a declared user: its User document \
        was removed since HEAD; remove this member entry too, or declare the user again [unknown-user]
        HEAD:directory/users.yaml:2:8: note: declared here at HEAD
        Validated 3 files (1 role, 2 users, 1 customer, 0 accounts): 1 error, 0 warnings.

        """)
    }

    func testRemovalAlreadyCommittedIsFoundAtTheCommitBefore() throws {
        try repo.write("directory/users.yaml", Self.users)
        _ = try repo.commit("remove adam")
        let result = roster(["validate"], in: repo.root)
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stdout.contains("was removed since HEAD~1;"), result.stdout)
        XCTAssertTrue(result.stdout.contains("HEAD~1:directory/users.yaml:2:8: note: declared here at HEAD~1"), result.stdout)
    }

    func testAnEmailNeverDeclaredSuggestsNoOtherPerson() throws {
        try repo.write("directory/acme.yaml", Self.customer.replacingOccurrences(of: "adam@", with: "adamm@"))
        let result = roster(["validate"], in: repo.root)
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stdout.contains("""
        directory/acme.yaml:7:11: error: member 'adamm@example.com' is not a declared user; did you mean 'adam@example.com'?
        """), result.stdout)
        try repo.write("directory/users.yaml", Self.users)
        try repo.write("directory/acme.yaml", Self.customer.replacingOccurrences(of: "adam@", with: "adan@"))
        let other = roster(["validate"], in: repo.root)
        XCTAssertTrue(other.stdout.contains("member 'adan@example.com' is not a declared user; declare it with 'kind: User'"),
                      other.stdout)
    }

    /// Outside git (the README's walk-through copies the quickstart), `plan` finds the user in
    /// an existing SQLite store; `validate` never opens the store, so it cannot say so.
    func testPlanSaysAUserInTheStoreWasRemoved() throws {
        let ws = try Quickstart.applied()
        if case .postgres = ws.backend { throw XCTSkip("the store is asked only when it is an existing SQLite file") }
        try ws.edit(Quickstart.otherUsers, "---\nkind: User\nemail: dan@partner.example\nname: Dan Partner\n", "")
        let plan = ws.run(["plan"])
        XCTAssertEqual(plan.status, 3)
        let removed = "member 'dan@partner.example' is no longer a declared user: its User document was removed "
            + "(the store holds the user); remove this member entry too, or declare the user again [unknown-user]"
        XCTAssertEqual(plan.stderr.components(separatedBy: removed).count - 1, 2, "one error per file:\n\(plan.stderr)")
        XCTAssertTrue(plan.stderr.contains("directory/customers/bluebird-studio.yaml:"), plan.stderr)
        XCTAssertTrue(plan.stderr.contains("directory/customers/northwind-media.yaml:"), plan.stderr)
        let validate = ws.run(["validate"])
        XCTAssertTrue(validate.stdout.contains("member 'dan@partner.example' is not a declared user; declare it"),
                      validate.stdout)
    }
}
