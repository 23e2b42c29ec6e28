import Foundation
import RosterCore
import XCTest

/// SPEC §5: approval, saved plans and their staleness, and the safety rails.
final class ApplySafetyTests: XCTestCase {

    // MARK: Approval

    func testApplyWithoutTerminalOrApprovalIsRefusedAndChangesNothing() throws {
        let ws = try Workspace()
        let refused = ws.run(["apply"])
        XCTAssertEqual(refused.status, 4)
        XCTAssertTrue(refused.stderr.contains("--auto-approve"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("nothing was changed"), refused.stderr)
        if ws.isPostgres || FileManager.default.fileExists(atPath: ws.statePath) {
            XCTAssertEqual(try ws.serial(), 0)
            XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM users") + (try ws.int("SELECT COUNT(*) FROM audit")), 0)
        }

        try ws.apply()
        try ws.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios\n")
        let before = try ws.dump()
        XCTAssertEqual(ws.run(["apply"]).status, 4)
        XCTAssertEqual(try ws.dump(), before)
    }

    func testTerminalAnswerOtherThanYesCancels() throws {
        for answer in [["no"], ["y"], ["YES"], []] {
            let ws = try Workspace()
            let result = ws.run(["apply"], stdinIsTerminal: true, input: answer)
            XCTAssertEqual(result.status, 4, "answer \(answer)")
            XCTAssertTrue(result.stdout.contains("Apply these changes? Only 'yes' is accepted: "), result.stdout)
            XCTAssertTrue(result.stderr.contains("cancelled"), result.stderr)
            XCTAssertEqual(try ws.serial(), 0)
            XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM users") + (try ws.int("SELECT COUNT(*) FROM audit")), 0)
        }
    }

    func testTerminalAnsweringYesApplies() throws {
        let ws = try Workspace()
        let result = ws.run(["apply"], stdinIsTerminal: true, input: [" yes "])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("Apply complete: 25 changes applied; the store is at serial 1."), result.stdout)
        XCTAssertEqual(lines(try ws.plan()), [])
        let auto = ws.run(["apply", "--auto-approve"], stdinIsTerminal: true)
        XCTAssertFalse(auto.stdout.contains("Apply these changes?"), "--auto-approve never asks")
    }

    // MARK: Saved plans

    /// The changes recorded in the audit log under `serial`.
    func auditedChanges(_ ws: Workspace, serial: Int) throws -> [Change] {
        try ws.strings("SELECT change FROM audit WHERE serial = \(serial) ORDER BY seq").map {
            try JSONDecoder().decode(Change.self, from: Data($0.utf8))
        }
    }

    func testSavedPlanAppliesExactlyAsReviewed() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.otherUsers, "name: Dan Partner", "name: Daniel Partner")
        let saved = ws.run(["plan", "--out", ws.root + "/p.json"])
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let plan = try Plan.read(json: Data(contentsOf: URL(fileURLWithPath: ws.root + "/p.json")))
        XCTAssertEqual(lines(plan), ["update user dan@partner.example"])
        // The files move on after the review; the saved plan is what gets applied.
        try ws.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios\n")
        let serial = try ws.serial()
        let applied = ws.run(["apply", ws.root + "/p.json"])
        XCTAssertEqual(applied.status, 0, "a saved plan is its own approval: " + applied.stderr)
        XCTAssertEqual(try ws.serial(), serial + 1)
        XCTAssertEqual(try auditedChanges(ws, serial: serial + 1), plan.changes)
        XCTAssertEqual(lines(try ws.plan()), ["update customer bluebird-studio"])
    }

    func testSavedPlanWithARelativePathIsReadFromTheWorkingDirectory() throws {
        let ws = try Workspace()
        XCTAssertEqual(ws.run(["plan", "--out", "p.json"]).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.root + "/p.json"), "plan --out writes beside the project")
        let applied = ws.run(["apply", "p.json"])
        XCTAssertEqual(applied.status, 0, "apply must read p.json from where plan --out wrote it: " + applied.stderr)
        XCTAssertEqual(try ws.serial(), 1)
    }

    func testSavedPlanIsStaleOnceAnythingWasApplied() throws {
        let ws = try Workspace()
        let path = ws.root + "/p.json"
        XCTAssertEqual(ws.run(["plan", "--out", path]).status, 0)
        XCTAssertEqual(ws.run(["apply", path]).status, 0)
        let before = try ws.dump()
        let again = ws.run(["apply", path])
        XCTAssertEqual(again.status, 4)
        XCTAssertTrue(again.stderr.contains("the saved plan is stale: it was made at serial 0, the store is at serial 1"),
                      again.stderr)
        XCTAssertTrue(again.stderr.contains("changed since:\n  serial 1 2026-11-23T12:00:00Z tester: create role admin\n"),
                      again.stderr)
        XCTAssertEqual(try ws.dump(), before)

        // A plan saved at serial 1 is stale once another apply moved the store to serial 2.
        try ws.edit(Quickstart.otherUsers, "name: Dan Partner", "name: Daniel Partner")
        XCTAssertEqual(ws.run(["plan", "--out", path]).status, 0)
        try ws.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios\n")
        ws.actor = "other-engineer"
        try ws.apply()
        let stale = ws.run(["apply", path])
        XCTAssertEqual(stale.status, 4)
        XCTAssertTrue(stale.stderr.contains("serial 2 2026-11-23T12:00:00Z other-engineer: update customer bluebird-studio"),
                      stale.stderr)
        XCTAssertTrue(stale.stderr.contains("serial 2 2026-11-23T12:00:00Z other-engineer: update user dan@partner.example"),
                      stale.stderr)
        XCTAssertFalse(stale.stderr.contains("serial 1 "), "only what changed since the plan was made")
        XCTAssertEqual(try ws.serial(), 2)
    }

    func testPlanSavedForAnotherStoreIsRefused() throws {
        let ws = try Workspace(seed: 1)
        let other = try Workspace(seed: 2)
        XCTAssertEqual(other.run(["plan", "--out", other.root + "/p.json"]).status, 0)
        XCTAssertEqual(ws.run(["plan"]).status, 0, "creates this store")
        let before = try ws.dump()
        let result = ws.run(["apply", other.root + "/p.json"])
        XCTAssertEqual(result.status, 4)
        XCTAssertTrue(result.stderr.contains("the saved plan was made for another store"), result.stderr)
        XCTAssertEqual(try ws.dump(), before)
    }

    // MARK: Rails

    /// Checks that `rail` alone blocks the pending plan: `plan` shows it and exits 0 (2 with
    /// --detailed-exitcode), `apply` exits 4 changing nothing, `--allow` of another rail does not help,
    /// `--allow RAIL` applies.
    func assertRailBlocks(_ ws: Workspace, _ rail: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let plan = try ws.plan()
        XCTAssertEqual(blockedRails(plan), [rail], file: file, line: line)
        let text = ws.run(["plan"])
        XCTAssertEqual(text.status, 0, file: file, line: line)
        XCTAssertTrue(text.stdout.contains("BLOCKED \(rail)"), text.stdout, file: file, line: line)
        XCTAssertEqual(ws.run(["plan", "--detailed-exitcode"]).status, 2, file: file, line: line)
        let before = try ws.dump()
        let serial = try ws.serial()
        let refused = ws.run(["apply", "--auto-approve"])
        XCTAssertEqual(refused.status, 4, file: file, line: line)
        XCTAssertTrue(refused.stderr.contains("blocked by safety rails: \(rail)"), refused.stderr, file: file, line: line)
        XCTAssertTrue(refused.stderr.contains("--allow \(rail)"), refused.stderr, file: file, line: line)
        let otherRail = rail == "account-move" ? "mass-removal" : "account-move"
        XCTAssertEqual(ws.run(["apply", "--auto-approve", "--allow", otherRail]).status, 4, file: file, line: line)
        let saved = ws.root + "/rail.json"
        XCTAssertEqual(ws.run(["plan", "--out", saved]).status, 0, file: file, line: line)
        XCTAssertEqual(ws.run(["apply", saved]).status, 4, "a saved plan is held by the rails too", file: file, line: line)
        XCTAssertEqual(try ws.dump(), before, "a refused apply changes nothing", file: file, line: line)
        let allowed = ws.run(["apply", saved, "--allow", rail])
        XCTAssertEqual(allowed.status, 0, allowed.stderr, file: file, line: line)
        XCTAssertEqual(try ws.serial(), serial + 1, file: file, line: line)
        XCTAssertEqual(lines(try ws.plan()), [], file: file, line: line)
    }

    func testOwnershipTransferRail() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.northwind, "owner: bob@northwind-media.example", "owner: carol@northwind-media.example")
        try assertRailBlocks(ws, "ownership-transfer")
    }

    func testCustomerDeactivationRail() throws {
        let ws = try Quickstart.applied()
        try ws.remove(Quickstart.bluebird)
        try assertRailBlocks(ws, "customer-deactivation")
    }

    func testAccountMoveRail() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.northwind, "id: northwind-live\ncustomer: northwind-media", "id: northwind-live\ncustomer: bluebird-studio")
        try assertRailBlocks(ws, "account-move")
    }

    func testMassDeactivationRail() throws {
        let ws = try RailsProject.workspace()
        try ws.write(RailsProject.usersFile, RailsProject.users(idle: 1...1))
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan).filter { $0.hasPrefix("deactivate user") }.count, 5)
        let check = try XCTUnwrap(plan.rails.first { $0.rail == .massDeactivation })
        XCTAssertEqual([check.count, check.limit], [5, 1], "10% of 19 active users")
        XCTAssertEqual(check.message, "5 users deactivated; safety.maxUserDeactivations (10% of 19 active) allows 1")
        try assertRailBlocks(ws, "mass-deactivation")
    }

    func testMassRemovalRail() throws {
        let ws = try RailsProject.workspace()
        try ws.write(RailsProject.customerFile, RailsProject.customer(members: 6...12))
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan).filter { $0.hasPrefix("revoke membership") }.count, 5)
        let check = try XCTUnwrap(plan.rails.first { $0.rail == .massRemoval })
        XCTAssertEqual([check.count, check.limit], [5, 3], "25% of 12 memberships")
        try assertRailBlocks(ws, "mass-removal")
    }

    func testFewerThanFiveAffectedAreNeverBlockedByPercentages() throws {
        let ws = try RailsProject.workspace()
        try ws.write(RailsProject.usersFile, RailsProject.users(idle: 1...2))
        try ws.write(RailsProject.customerFile, RailsProject.customer(members: 5...12))
        let plan = try ws.plan()
        XCTAssertEqual(plan.rails.filter { $0.rail.rawValue.hasPrefix("mass-") }.map(\.count), [4, 4])
        XCTAssertEqual(blockedRails(plan), [], "4 is over 10% and 25% but under the floor of 5")
        try ws.applyAndConverge()
    }

    func testAbsoluteThresholdAllowsUpToItsNumber() throws {
        let ws = try RailsProject.workspace(safety: "maxUserDeactivations: 5")
        try ws.write(RailsProject.usersFile, RailsProject.users(idle: 1...1))
        XCTAssertEqual(blockedRails(try ws.plan()), [], "5 deactivations, 5 allowed")
        try ws.write(RailsProject.usersFile, RailsProject.users(idle: 0...0))
        XCTAssertEqual(blockedRails(try ws.plan()), ["mass-deactivation"], "6 deactivations, 5 allowed")
    }
}

/// A directory big enough for the counted rails: one owner, twelve members of one account and
/// six users without any membership.
enum RailsProject {
    static let usersFile = "directory/users.yaml"
    static let customerFile = "directory/customer.yaml"

    static func email(_ name: String, _ n: Int) -> String { "\(name)\(n < 10 ? "0" : "")\(n)@rails.example" }

    /// The owner, members 1…12, and the idle users of `idle` out of 1…6 (empty when the range is 0…0).
    static func users(idle: ClosedRange<Int> = 1...6) -> String {
        let idlers = idle.lowerBound == 0 ? [] : Array(idle)
        let emails = ["owner@rails.example"] + (1...12).map { email("member", $0) } + idlers.map { email("idle", $0) }
        return emails.map { "kind: User\nemail: \($0)\n" }.joined(separator: "---\n")
    }

    static func customer(members: ClosedRange<Int> = 1...12) -> String {
        """
        kind: Role
        id: viewer
        permissions: {streams: [read]}
        ---
        kind: Customer
        id: rails
        owner: owner@rails.example
        ---
        kind: Account
        id: rails-web
        customer: rails
        members:

        """ + members.map { "  - user: \(email("member", $0))\n    roles: [viewer]\n" }.joined()
    }

    /// The project, applied once (19 users, 12 memberships).
    static func workspace(safety: String = "maxUserDeactivations: 10%") throws -> Workspace {
        let ws = try Workspace(files: [
            "roster.yaml": """
            version: 1
            sources: [directory]
            permissions:
              streams: [read]
            safety:
              \(safety)
              maxMembershipRemovals: 25%

            """,
            usersFile: users(),
            customerFile: customer(),
        ])
        try ws.applyAndConverge()
        return ws
    }
}
