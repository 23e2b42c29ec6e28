import Foundation
import RosterCore
import XCTest

/// The user actions of SPEC §4.1 (invite, rename, deactivate, reactivate, reissue-invitation,
/// revoke-invitation) and the life of one user from invitation to deactivation and back.
final class ReconcilerUserTests: XCTestCase {
    static let dan = "dan@partner.example"

    /// Removes dan and his two memberships from the quickstart's files.
    func removeDan(_ ws: Workspace) throws {
        try ws.edit(Quickstart.otherUsers, "---\nkind: User\nemail: dan@partner.example\nname: Dan Partner\n", "")
        try ws.edit(Quickstart.bluebird, "members:\n  - user: dan@partner.example\n    roles: [ecommerce-viewer, viewer]\n", "")
        try ws.edit(Quickstart.northwind, "  - user: dan@partner.example\n    roles: [system-integrator]\n", "")
        try ws.edit(Quickstart.northwind, "    expires: 2029-01-31              # time-bound access: ends at 00:00 UTC that day\n", "")
    }

    /// Puts the quickstart's files back as they were.
    func restore(_ ws: Workspace) throws {
        for file in [Quickstart.otherUsers, Quickstart.bluebird, Quickstart.northwind] {
            try ws.write(file, String(contentsOfFile: Paths.packageRoot + "/examples/quickstart/" + file, encoding: .utf8))
        }
    }

    // MARK: invite

    func testNewUserIsInvitedWithAMessageFromTheOwnerOfItsScope() throws {
        let ws = try Quickstart.applied()
        try ws.append(Quickstart.otherUsers, "---\nkind: User\nemail: Gina@Bluebird-Studio.example\nname: Gina\n")
        try ws.append(Quickstart.bluebird, "  - user: gina@bluebird-studio.example\n    roles: [viewer]\n")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["invite user Gina@Bluebird-Studio.example",
                                     "grant membership Gina@Bluebird-Studio.example@account:bluebird-tv"])
        let invite = plan.changes[0]
        XCTAssertEqual(invite.after, .user(UserState(email: "Gina@Bluebird-Studio.example", name: "Gina", status: .invited)))
        XCTAssertEqual(invite.invitation, InvitationPlan(
            user: "gina@bluebird-studio.example", email: "Gina@Bluebird-Studio.example", inviter: "frank@bluebird-studio.example",
            grants: [InvitationGrant(scope: ScopeRef(.account, "bluebird-tv"), roles: ["viewer"])]))
        let before = try ws.messages()
        try ws.applyAndConverge()
        let sent = try ws.newMessages(to: "gina@bluebird-studio.example", since: before)
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(sent.first?.from, "frank@bluebird-studio.example")
        XCTAssertEqual(sent.first?.to, "Gina@Bluebird-Studio.example", "the email is displayed as written")
        XCTAssertTrue(sent.first?.text.contains("  - account bluebird-tv (Bluebird TV): viewer\r\n") == true, sent.first?.text ?? "")
        XCTAssertTrue(sent.first?.text.contains("Accept the invitation before 2026-11-30T12:00:00Z") == true, sent.first?.text ?? "")
        XCTAssertEqual(try ws.strings("SELECT status FROM users WHERE email_key = 'gina@bluebird-studio.example'"), ["invited"])
    }

    // MARK: rename

    func testPreviousEmailsRenameTheUserAndKeepItsMembershipsAndHistory() throws {
        let ws = try Quickstart.applied()
        let userID = try ws.int("SELECT id FROM users WHERE email_key = 'dan@partner.example'")
        try ws.edit(Quickstart.otherUsers, "email: dan@partner.example\n", "email: dan@new-partner.example\npreviousEmails: [dan@partner.example]\n")
        for file in [Quickstart.bluebird, Quickstart.northwind] {
            try ws.edit(file, "user: dan@partner.example", "user: dan@new-partner.example")
        }
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["rename user dan@new-partner.example"],
                       "a rename carries the memberships over: nothing is revoked or granted")
        XCTAssertEqual(plan.changes[0].reason, "previousEmails lists dan@partner.example")
        XCTAssertEqual(plan.accessDelta, [])
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.int("SELECT id FROM users WHERE email_key = 'dan@new-partner.example'"), userID)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM users WHERE email_key = 'dan@partner.example'"), 0)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL AND user_id = \(userID)"), 2)
        XCTAssertEqual(try ws.strings("SELECT status FROM users WHERE id = \(userID)"), ["active"], "still accepted")
        let history = ws.run(["history", "--user", "dan@new-partner.example"])
        XCTAssertEqual(history.status, 0, history.stderr)
        XCTAssertTrue(history.stdout.contains("rename user dan@new-partner.example"), history.stdout)
    }

    func testHistoryOfARenamedUserIncludesWhatHappenedUnderItsPreviousEmail() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.otherUsers, "email: dan@partner.example\n", "email: dan@new-partner.example\npreviousEmails: [dan@partner.example]\n")
        for file in [Quickstart.bluebird, Quickstart.northwind] {
            try ws.edit(file, "user: dan@partner.example", "user: dan@new-partner.example")
        }
        try ws.applyAndConverge()
        let history = ws.run(["history", "--user", "dan@new-partner.example"])
        XCTAssertEqual(history.status, 0, history.stderr)
        // The rename keeps the user's identity and history (issue 3): its invitation, grants
        // and acceptance are part of the renamed user's history.
        for record in ["invite user dan@partner.example", "grant membership dan@partner.example@account:bluebird-tv",
                       "accept-invitation invitation dan@partner.example", "rename user dan@new-partner.example"] {
            XCTAssertTrue(history.stdout.contains(record), "missing '\(record)' in:\n" + history.stdout)
        }
    }

    // MARK: deactivate, revoke, revoke-invitation

    func testRemovedUserIsDeactivatedAndEachMembershipRevokedAsItsOwnChange() throws {
        let ws = try Quickstart.applied()
        try removeDan(ws)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership dan@partner.example@account:bluebird-tv",
                                     "revoke membership dan@partner.example@account:northwind-live",
                                     "deactivate user dan@partner.example"],
                       "an accepted user has no pending invitation to revoke")
        XCTAssertEqual(plan.changes.map(\.reason), ["user removed", "user removed", "removed from the files"])
        XCTAssertEqual(plan.changes[2].risk, .high)
        XCTAssertEqual(Set(plan.accessDelta.map(\.change)), [.loss])
        XCTAssertEqual(blockedRails(plan), [], "one user of six is under the 5-affected floor")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT status || '/' || CASE WHEN deactivated_at IS NULL THEN 0 ELSE 1 END FROM users WHERE email_key = '\(Self.dan)'"),
                       ["inactive/1"], "deactivated, never deleted")
    }

    func testUserDeclaredInactiveIsDeactivated() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.otherUsers, "name: Dan Partner\n", "name: Dan Partner\nstatus: inactive\n")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership dan@partner.example@account:bluebird-tv",
                                     "revoke membership dan@partner.example@account:northwind-live",
                                     "deactivate user dan@partner.example"])
        XCTAssertEqual(plan.changes.map(\.reason), ["user deactivated", "user deactivated", "declared inactive"])
        try ws.applyAndConverge()
    }

    func testRemovingAnInvitedUserRevokesItsPendingInvitation() throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: Self.dan)
        try removeDan(ws)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership dan@partner.example@account:bluebird-tv",
                                     "revoke membership dan@partner.example@account:northwind-live",
                                     "revoke-invitation invitation dan@partner.example",
                                     "deactivate user dan@partner.example"])
        // One level of brackets in the plan's text: "(user deactivated; invitation …)".
        let reason = try XCTUnwrap(plan.changes.first { $0.action == .revokeInvitation }?.reason)
        XCTAssertTrue(reason.hasPrefix("user deactivated; invitation "), reason)
        XCTAssertFalse(reason.contains("("), reason)
        try ws.applyAndConverge()
        let accept = ws.run(["invitations", "accept", token])
        XCTAssertEqual(accept.status, 1)
        XCTAssertTrue(accept.stderr.contains("revoked"), accept.stderr)
        let list = ws.run(["invitations", "list", "--status", "revoked"])
        XCTAssertTrue(list.stdout.hasPrefix("revoked   dan@partner.example"), list.stdout)
    }

    // MARK: reactivate

    func testUserWhoHadAcceptedIsReactivatedAsActive() throws {
        let ws = try Quickstart.applied()
        try removeDan(ws)
        try ws.applyAndConverge()
        try restore(ws)
        let before = try ws.messages()
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["reactivate user dan@partner.example",
                                     "grant membership dan@partner.example@account:bluebird-tv",
                                     "grant membership dan@partner.example@account:northwind-live"])
        XCTAssertEqual(plan.changes[0].after, .user(UserState(email: Self.dan, name: "Dan Partner", status: .active)))
        XCTAssertNil(plan.changes[0].invitation, "an accepted user is not invited again")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.newMessages(to: Self.dan, since: before), [])
        XCTAssertEqual(try ws.strings("SELECT status FROM users WHERE email_key = '\(Self.dan)'"), ["active"])
    }

    func testUserWhoNeverAcceptedIsInvitedAnewWhenReactivated() throws {
        let ws = try Quickstart.applied(accepted: false)
        let oldToken = try ws.onlyToken(of: Self.dan)
        try removeDan(ws)
        try ws.applyAndConverge()
        try restore(ws)
        let before = try ws.messages()
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["reactivate user dan@partner.example",
                                     "grant membership dan@partner.example@account:bluebird-tv",
                                     "grant membership dan@partner.example@account:northwind-live"])
        XCTAssertEqual(plan.changes[0].after, .user(UserState(email: Self.dan, name: "Dan Partner", status: .invited)))
        XCTAssertEqual(plan.changes[0].reason, "never accepted: invited anew")
        XCTAssertEqual(plan.changes[0].invitation?.inviter, "frank@bluebird-studio.example")
        try ws.applyAndConverge()
        let sent = try ws.newMessages(to: Self.dan, since: before)
        XCTAssertEqual(sent.count, 1, "a new invitation is delivered")
        XCTAssertEqual(ws.run(["invitations", "accept", oldToken]).status, 1, "the revoked token stays dead")
        XCTAssertEqual(ws.run(["invitations", "accept", sent[0].token]).status, 0)
        XCTAssertEqual(try ws.strings("SELECT status FROM users WHERE email_key = '\(Self.dan)'"), ["active"])
        XCTAssertEqual(lines(try ws.plan()), [])
    }

    // MARK: reissue-invitation

    func testExpiredInvitationIsReissuedUpToMaxReissuesThenThePlanWarns() throws {
        let ws = try Quickstart.applied(accepted: false)
        try ws.accept(Quickstart.users.filter { $0 != Self.dan })
        let first = try ws.onlyToken(of: Self.dan)
        // Not yet expired (ttl 7d): nothing to do.
        ws.now += 7 * oneDay - 1
        XCTAssertEqual(lines(try ws.plan()), [])
        var tokens = [first]
        for round in 1...3 {
            ws.now += 8 * oneDay
            let plan = try ws.plan()
            XCTAssertEqual(lines(plan), ["reissue-invitation invitation dan@partner.example"], "round \(round)")
            XCTAssertEqual(plan.changes.first?.reason, "expired; re-issue \(round) of 3")
            XCTAssertNotNil(plan.changes.first?.invitation?.replaces)
            XCTAssertEqual(plan.warnings, [])
            let before = try ws.messages()
            try ws.applyAndConverge()
            let sent = try ws.newMessages(to: Self.dan, since: before)
            XCTAssertEqual(sent.count, 1, "round \(round)")
            tokens += sent.map(\.token)
        }
        XCTAssertEqual(Set(tokens).count, 4, "every re-issue has a new token")
        XCTAssertEqual(try ws.strings("SELECT reissue_count FROM invitations ORDER BY issued_at DESC LIMIT 1"), ["3"])
        ws.now += 8 * oneDay
        let exhausted = try ws.plan()
        XCTAssertEqual(lines(exhausted), [], "no re-issue past maxReissues")
        XCTAssertEqual(exhausted.warnings.count, 1)
        XCTAssertTrue(exhausted.warnings.first?.contains("'dan@partner.example' expired and was re-issued 3 times (maxReissues 3)") == true,
                      exhausted.warnings.joined(separator: "\n"))
        XCTAssertTrue(ws.run(["plan"]).stdout.contains("maxReissues 3"), "the text plan shows the warning too")
        for token in tokens {
            XCTAssertEqual(ws.run(["invitations", "accept", token]).status, 1, "expired or replaced: \(token)")
        }
    }

    func testExpiredInvitationIsLeftAloneWhenReissueExpiredIsOff() throws {
        let ws = try Quickstart.applied(accepted: false)
        try ws.edit("roster.yaml", "reissueExpired: true", "reissueExpired: false")
        ws.now += 30 * oneDay
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), [])
        XCTAssertEqual(plan.warnings, [])
    }

    // MARK: The whole life of a user

    func testInviteAcceptRemoveAndDeclareAgain() throws {
        let ws = try Quickstart.applied()
        let gina = "gina@bluebird-studio.example"
        let user = "---\nkind: User\nemail: gina@bluebird-studio.example\nname: Gina\n"
        let member = "  - user: gina@bluebird-studio.example\n    roles: [viewer]\n"
        try ws.append(Quickstart.otherUsers, user)
        try ws.append(Quickstart.bluebird, member)
        try ws.edit(Quickstart.northwind, "members:\n  - user: carol", "members:\n  - user: gina@bluebird-studio.example\n    roles: [reporting]\n  - user: carol")
        XCTAssertEqual(lines(try ws.applyAndConverge()), ["invite user gina@bluebird-studio.example",
                                                          "grant membership gina@bluebird-studio.example@customer:northwind-media",
                                                          "grant membership gina@bluebird-studio.example@account:bluebird-tv"])
        // Accepting is not a change of the directory: the next plan is still empty.
        try ws.accept([gina])
        XCTAssertEqual(lines(try ws.plan()), [])
        XCTAssertEqual(try ws.strings("SELECT status FROM users WHERE email_key = '\(gina)'"), ["active"])

        try ws.write(Quickstart.otherUsers, try ws.read(Quickstart.otherUsers).replacingOccurrences(of: user, with: ""))
        try ws.write(Quickstart.bluebird, try ws.read(Quickstart.bluebird).replacingOccurrences(of: member, with: ""))
        try ws.edit(Quickstart.northwind, "  - user: gina@bluebird-studio.example\n    roles: [reporting]\n", "")
        XCTAssertEqual(lines(try ws.applyAndConverge()), ["revoke membership gina@bluebird-studio.example@customer:northwind-media",
                                                          "revoke membership gina@bluebird-studio.example@account:bluebird-tv",
                                                          "deactivate user gina@bluebird-studio.example"])
        let history = ws.run(["history", "--user", gina])
        XCTAssertEqual(history.status, 0, history.stderr)
        let actions = history.stdout.split(separator: "\n").map { $0.components(separatedBy: "  ").last ?? "" }
        XCTAssertEqual(actions, ["invite user gina@bluebird-studio.example",
                                 "grant membership gina@bluebird-studio.example@customer:northwind-media",
                                 "grant membership gina@bluebird-studio.example@account:bluebird-tv",
                                 "accept-invitation invitation gina@bluebird-studio.example",
                                 "revoke membership gina@bluebird-studio.example@customer:northwind-media",
                                 "revoke membership gina@bluebird-studio.example@account:bluebird-tv",
                                 "deactivate user gina@bluebird-studio.example"], history.stdout)

        try ws.append(Quickstart.otherUsers, user)
        let again = try ws.applyAndConverge()
        XCTAssertEqual(lines(again), ["reactivate user gina@bluebird-studio.example"])
        XCTAssertEqual(again.changes[0].after, .user(UserState(email: gina, name: "Gina", status: .active)))
    }
}
