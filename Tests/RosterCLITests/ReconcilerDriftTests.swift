import Foundation
import RosterCore
import XCTest

/// Drift (SPEC §4.1): rows changed in the store outside roster are reverted by the next plan
/// and labelled as drift; a user accepting an invitation is not drift.
final class ReconcilerDriftTests: XCTestCase {
    /// The quickstart applied and accepted, then changed outside roster by `sql`.
    func drifted(_ sql: String...) throws -> Workspace {
        let ws = try Quickstart.applied()
        for statement in sql { try ws.execute(statement) }
        return ws
    }

    static func userID(_ email: String) -> String { "(SELECT id FROM users WHERE email_key = '\(email)')" }

    func testCustomerRenamedInTheStoreIsRenamedBackAsDrift() throws {
        let ws = try drifted("UPDATE customers SET name = 'Hacked Ltd' WHERE id = 'bluebird-studio'")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["update customer bluebird-studio"])
        XCTAssertEqual(driftLines(plan), lines(plan))
        guard case .customer(let before)? = plan.changes[0].before, case .customer(let after)? = plan.changes[0].after else {
            return XCTFail("an update carries the customer before and after")
        }
        XCTAssertEqual([before.name, after.name], ["Hacked Ltd", "Bluebird Studio"])
        XCTAssertTrue(ws.run(["plan"]).stdout.contains("(drift)"), "the text plan labels drift")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT name FROM customers WHERE id = 'bluebird-studio'"), ["Bluebird Studio"])
    }

    func testMembershipAddedOutsideRosterIsRevokedAsDrift() throws {
        let ws = try drifted("""
            INSERT INTO memberships (user_id, scope_kind, scope_id, roles, started_at)
            VALUES (\(Self.userID("frank@bluebird-studio.example")), 'account', 'northwind-live', 'admin', '2026-11-24T00:00:00Z')
            """)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership frank@bluebird-studio.example@account:northwind-live"])
        XCTAssertEqual(driftLines(plan), lines(plan))
        XCTAssertTrue(plan.accessDelta.contains {
            $0.user == "frank@bluebird-studio.example" && $0.change == .loss && $0.via == "role admin on account northwind-live"
        }, "the reviewer sees the access the drift gave")
        try ws.applyAndConverge()
    }

    func testMembershipEndedExternallyIsGrantedBackAsDrift() throws {
        let ws = try drifted("""
            UPDATE memberships SET ended_at = '2026-11-24T00:00:00Z', end_reason = 'external'
            WHERE user_id = \(Self.userID("carol@northwind-media.example")) AND scope_id = 'northwind-media'
            """)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["grant membership carol@northwind-media.example@customer:northwind-media"])
        XCTAssertEqual(driftLines(plan), lines(plan))
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.int("""
            SELECT COUNT(*) FROM memberships WHERE scope_id = 'northwind-media' AND ended_at IS NULL
            AND user_id = \(Self.userID("carol@northwind-media.example"))
            """), 1)
    }

    func testRolesChangedInTheStoreAreChangedBackAsDrift() throws {
        let ws = try drifted("""
            UPDATE memberships SET roles = 'admin' WHERE ended_at IS NULL
            AND user_id = \(Self.userID("erin@northwind-media.example")) AND scope_id = 'northwind-live'
            """)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["change-roles membership erin@northwind-media.example@account:northwind-live"])
        XCTAssertEqual(driftLines(plan), lines(plan))
        try ws.applyAndConverge()
    }

    func testUserDeactivatedInThePlatformIsReactivatedAsDrift() throws {
        let ws = try drifted("UPDATE users SET status = 'inactive' WHERE email_key = 'erin@northwind-media.example'")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["reactivate user erin@northwind-media.example"])
        XCTAssertEqual(driftLines(plan), lines(plan))
        XCTAssertNil(plan.changes[0].invitation, "erin had accepted: active again, not invited")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT status FROM users WHERE email_key = 'erin@northwind-media.example'"), ["active"])
    }

    func testSeveralDriftsAreRevertedInOneApply() throws {
        let ws = try drifted(
            "UPDATE customers SET name = 'Hacked Ltd' WHERE id = 'bluebird-studio'",
            "UPDATE accounts SET service = 'web-meeting' WHERE id = 'northwind-live'",
            "UPDATE roles SET permissions = '{\"streams\":[\"read\"]}' WHERE id = 'reporting'")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["update role reporting", "update customer bluebird-studio", "update account northwind-live"])
        XCTAssertEqual(driftLines(plan), lines(plan))
        try ws.applyAndConverge()
    }

    // MARK: Not drift

    func testAcceptingAnInvitationIsNotDrift() throws {
        let ws = try Quickstart.applied(accepted: false)
        try ws.accept(["erin@northwind-media.example", "dan@partner.example"])
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), [])
        XCTAssertEqual(try ws.strings("SELECT email_key FROM users WHERE status = 'active' ORDER BY email_key"),
                       ["dan@partner.example", "erin@northwind-media.example"])
        // Later changes to an accepted user are not labelled drift either.
        try ws.edit(Quickstart.northwindUsers, "name: Erin Fischer", "name: Erin Fischer-Lee")
        let update = try ws.plan()
        XCTAssertEqual(lines(update), ["update user erin@northwind-media.example"])
        XCTAssertEqual(driftLines(update), [])
    }

    func testChangesOfTheFilesAreNotDrift() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios\n")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["update customer bluebird-studio"])
        XCTAssertEqual(driftLines(plan), [])
    }

    func testGrantingAgainWhatRosterRevokedIsNotDrift() throws {
        // carol's customer membership is ended outside roster once; roster grants it back (drift).
        let ws = try drifted("""
            UPDATE memberships SET ended_at = '2026-11-24T00:00:00Z', end_reason = 'external'
            WHERE user_id = \(Self.userID("carol@northwind-media.example")) AND scope_id = 'northwind-media'
            """)
        try ws.applyAndConverge()
        // Then the files remove it (roster revokes it) and later declare it again: no one touched
        // the store outside roster since, so the new grant is not drift.
        let member = "  - user: carol@northwind-media.example\n    roles: [admin]\n"
        try ws.edit(Quickstart.northwind, member, "")
        XCTAssertEqual(driftLines(try ws.applyAndConverge()), [])
        try ws.edit(Quickstart.northwind, "owner: alice@northwind-media.example\nmembers:\n",
                    "owner: alice@northwind-media.example\nmembers:\n" + member)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["grant membership carol@northwind-media.example@customer:northwind-media"])
        XCTAssertEqual(driftLines(plan), [], "an old external end must not label a later grant as drift")
    }
}
