import Foundation
import RosterCore
import XCTest

/// Every action of SPEC §4.1 on roles, customers, accounts and memberships, planned from the
/// quickstart on a real SQLite store, applied, and planned again to nothing (idempotence).
final class ReconcilerActionTests: XCTestCase {

    // MARK: The first plan

    func testFirstPlanCreatesRolesCustomersAccountsInvitesUsersAndGrantsMemberships() throws {
        let ws = try Workspace()
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), Quickstart.roles.map { "create role \($0)" }
            + Quickstart.users.map { "invite user \($0)" }
            + ["create customer bluebird-studio", "create customer northwind-media",
               "create account bluebird-tv", "create account northwind-live", "create account northwind-meet",
               "grant membership carol@northwind-media.example@customer:northwind-media",
               "grant membership erin@northwind-media.example@customer:northwind-media",
               "grant membership dan@partner.example@account:bluebird-tv",
               "grant membership dan@partner.example@account:northwind-live",
               "grant membership erin@northwind-media.example@account:northwind-live",
               "grant membership bob@northwind-media.example@account:northwind-meet",
               "grant membership carol@northwind-media.example@account:northwind-meet"])
        XCTAssertEqual(plan.store.serial, 0)
        XCTAssertEqual(plan.changes.filter(\.drift), [])
        XCTAssertEqual(blockedRails(plan), [])
        XCTAssertEqual(plan.summary.line, "Plan: 12 to create, 6 to invite, 7 to change.")
        let account = try change(plan, .create, .account, "northwind-meet")
        XCTAssertEqual(account.after, .account(AccountState(id: "northwind-meet", customer: "northwind-media",
                                                            name: "Northwind Team Meetings", service: "web-meeting",
                                                            owner: "alice@northwind-media.example", active: true)),
                       "an account without an owner is owned by its customer's owner")
        XCTAssertEqual(account.source, "directory/customers/northwind-media.yaml:26:5")
        let dan = try change(plan, .invite, .user, "dan@partner.example")
        XCTAssertEqual(dan.invitation?.inviter, "frank@bluebird-studio.example",
                       "accounts sorted by id: bluebird-tv (owned by frank) comes first")
        XCTAssertEqual(dan.invitation?.grants.map(\.scope.description), ["account bluebird-tv", "account northwind-live"])

        try ws.applyAndConverge()
        XCTAssertEqual(try ws.serial(), 1)
        XCTAssertEqual(try ws.strings("SELECT status FROM users ORDER BY email_key"), Array(repeating: "invited", count: 6))
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL"), 7)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), 25, "one audit record per change")
    }

    // MARK: Roles

    func testNewRoleIsCreatedAndChangedPermissionsUpdateTheRole() throws {
        let ws = try Quickstart.applied()
        try ws.append(Quickstart.rolesFile, "---\nkind: Role\nid: auditor\npermissions: {billing: [read]}\n")
        try ws.edit(Quickstart.northwind, "  - user: erin@northwind-media.example\n    roles: [reporting]",
                    "  - user: erin@northwind-media.example\n    roles: [reporting, auditor]")
        try ws.edit(Quickstart.rolesFile, "players and analytics\npermissions:\n  streams: [read]\n  players: [read]\n",
                    "players and analytics\npermissions:\n  streams: [read]\n")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["create role auditor", "update role viewer",
                                     "change-roles membership erin@northwind-media.example@account:northwind-live"])
        let update = try change(plan, .update, .role, "viewer")
        guard case .role(let before)? = update.before, case .role(let after)? = update.after else {
            return XCTFail("a role update carries the role before and after")
        }
        XCTAssertEqual(before.permissions["players"], ["read"])
        XCTAssertNil(after.permissions["players"])
        XCTAssertEqual(update.risk, .medium, "a change of permissions is worth a reviewer's look")
        // Everyone holding the role loses players:read where they hold it.
        let losses = plan.accessDelta.filter { $0.change == .loss }.map { "\($0.user) \($0.scope) \($0.permissions)" }
        XCTAssertEqual(losses, [#"carol@northwind-media.example account northwind-meet ["players:read"]"#,
                                #"dan@partner.example account bluebird-tv ["players:read"]"#])
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT permissions FROM roles WHERE id = 'viewer'"),
                       [#"{"analytics":["read"],"streams":["read"]}"#])
    }

    // MARK: Updates of customers, accounts and users

    func testChangedNamesAndServiceUpdateCustomerAccountAndUser() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios Ltd\n")
        try ws.edit(Quickstart.bluebird, "name: Bluebird TV\nservice: video-streaming", "name: Bluebird Meet\nservice: web-meeting")
        try ws.edit(Quickstart.otherUsers, "name: Dan Partner", "name: Daniel Partner")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["update user dan@partner.example", "update customer bluebird-studio",
                                     "update account bluebird-tv"])
        XCTAssertEqual(plan.accessDelta, [], "names and services grant nothing")
        let account = try change(plan, .update, .account, "bluebird-tv")
        guard case .account(let before)? = account.before, case .account(let after)? = account.after else {
            return XCTFail("an account update carries the account before and after")
        }
        XCTAssertEqual([before.name, before.service], ["Bluebird TV", "video-streaming"])
        XCTAssertEqual([after.name, after.service], ["Bluebird Meet", "web-meeting"])
        let user = try change(plan, .update, .user, "dan@partner.example")
        XCTAssertEqual(user.after, .user(UserState(email: "dan@partner.example", name: "Daniel Partner", status: .active)),
                       "an update keeps the user's stored status")
        XCTAssertFalse(plan.changes.contains(where: \.drift))
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT name || '/' || service FROM accounts WHERE id = 'bluebird-tv'"),
                       ["Bluebird Meet/web-meeting"])
        XCTAssertEqual(try ws.strings("SELECT name || '/' || status FROM users WHERE email_key = 'dan@partner.example'"),
                       ["Daniel Partner/active"])
    }

    func testChangedSpellingOfAnEmailUpdatesTheUserOnly() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.otherUsers, "email: dan@partner.example", "email: Dan@Partner.example")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["update user Dan@Partner.example"], "emails compare case-insensitively")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT email FROM users WHERE email_key = 'dan@partner.example'"), ["Dan@Partner.example"])
    }

    // MARK: Memberships

    func testGrantChangeRolesAndRevokeMemberships() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.northwind, "    roles: [reporting]\n", "    roles: [reporting]\n  - user: frank@bluebird-studio.example\n    roles: [viewer]\n")
        try ws.edit(Quickstart.northwind, "carol@northwind-media.example\n    roles: [admin]", "carol@northwind-media.example\n    roles: [viewer]")
        try ws.edit(Quickstart.northwind, "    roles: [creator]\n  - user: carol@northwind-media.example\n    roles: [viewer]\n",
                    "    roles: [creator]\n")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["change-roles membership carol@northwind-media.example@customer:northwind-media",
                                     "grant membership frank@bluebird-studio.example@account:northwind-live",
                                     "revoke membership carol@northwind-media.example@account:northwind-meet"])
        let revoke = try change(plan, .revoke, .membership, "carol@northwind-media.example@account:northwind-meet")
        XCTAssertEqual(revoke.reason, "removed from the files")
        XCTAssertEqual([revoke.customer, revoke.account], ["northwind-media", "northwind-meet"])
        let roles = try change(plan, .changeRoles, .membership, "carol@northwind-media.example@customer:northwind-media")
        guard case .membership(let before)? = roles.before, case .membership(let after)? = roles.after else {
            return XCTFail("change-roles carries the membership before and after")
        }
        XCTAssertEqual([before.roles, after.roles], [["admin"], ["viewer"]])
        XCTAssertEqual(blockedRails(plan), [])
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("""
            SELECT m.end_reason FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE u.email_key = 'carol@northwind-media.example' AND m.scope_id = 'northwind-meet'
            """), ["removed from the files"], "a revoked membership is ended, not deleted")
    }

    func testChangedExpiresUpdatesTheMembership() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.northwind, "expires: 2029-01-31", "expires: 2030-06-30")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["update membership dan@partner.example@account:northwind-live"])
        XCTAssertEqual(plan.accessDelta, [], "the same roles until a later day")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT expires FROM memberships WHERE expires IS NOT NULL AND ended_at IS NULL"), ["2030-06-30"])
    }

    func testMembershipIsRevokedWhenTheClockPassesItsExpiresDay() throws {
        let ws = try Quickstart.applied()
        // dan's membership of northwind-live expires 2029-01-31: it ends at 00:00 UTC that day.
        ws.now = ISO8601DateFormatter().date(from: "2029-01-30T23:59:59Z")!
        XCTAssertEqual(lines(try ws.plan()), [])
        ws.now = ISO8601DateFormatter().date(from: "2029-01-31T00:00:00Z")!
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership dan@partner.example@account:northwind-live"])
        XCTAssertEqual(plan.changes.first?.reason, "expired 2029-01-31")
        XCTAssertEqual(plan.accessDelta.map(\.change), [.loss])
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.strings("SELECT end_reason FROM memberships WHERE scope_id = 'northwind-live' AND ended_at IS NOT NULL"),
                       ["expired 2029-01-31"])
    }

    // MARK: Ownership and moves

    func testChangedOwnerTransfersOwnership() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.northwind, "owner: bob@northwind-media.example", "owner: carol@northwind-media.example")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["transfer-ownership account northwind-live"])
        let transfer = plan.changes[0]
        XCTAssertEqual(transfer.reason, "from bob@northwind-media.example to carol@northwind-media.example")
        XCTAssertEqual(transfer.risk, .high)
        XCTAssertEqual(blockedRails(plan), ["ownership-transfer"])
        XCTAssertTrue(plan.accessDelta.contains { $0.user == "bob@northwind-media.example" && $0.change == .loss })
        XCTAssertTrue(plan.accessDelta.contains { $0.user == "carol@northwind-media.example" && $0.change == .gain })
        try ws.applyAndConverge(["--allow", "ownership-transfer"])
        XCTAssertEqual(try ws.strings("""
            SELECT u.email_key FROM accounts a JOIN users u ON u.id = a.owner_id WHERE a.id = 'northwind-live'
            """), ["carol@northwind-media.example"])
    }

    func testNewCustomerOwnerTakesTheCustomerAndTheAccountsItOwnsByDefault() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.bluebird, "owner: frank@bluebird-studio.example", "owner: dan@partner.example")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["transfer-ownership customer bluebird-studio", "transfer-ownership account bluebird-tv"],
                       "bluebird-tv has no owner of its own: it follows its customer's")
        XCTAssertEqual(plan.changes.map(\.reason), Array(repeating: "from frank@bluebird-studio.example to dan@partner.example", count: 2))
        let rail = try XCTUnwrap(plan.rails.first { $0.rail == .ownershipTransfer })
        XCTAssertEqual([rail.count], [2])
        XCTAssertTrue(rail.blocked)
        XCTAssertEqual(Set(plan.accessDelta.filter { $0.change == .loss }.map(\.user)), ["frank@bluebird-studio.example"])
        XCTAssertEqual(Set(plan.accessDelta.filter { $0.change == .gain }.map(\.user)), ["dan@partner.example"])
        XCTAssertEqual(ws.run(["apply", "--auto-approve"]).status, 4)
        try ws.applyAndConverge(["--allow", "ownership-transfer"])
        XCTAssertEqual(try ws.strings("SELECT c.id || '=' || u.email_key FROM customers c JOIN users u ON u.id = c.owner_id ORDER BY c.id"),
                       ["bluebird-studio=dan@partner.example", "northwind-media=alice@northwind-media.example"])
    }

    func testAccountDeclaredUnderAnotherCustomerIsMoved() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.northwind, "id: northwind-live\ncustomer: northwind-media", "id: northwind-live\ncustomer: bluebird-studio")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["move account northwind-live"])
        XCTAssertEqual(plan.changes[0].reason, "from customer northwind-media to customer bluebird-studio")
        XCTAssertEqual(plan.changes[0].customer, "bluebird-studio")
        XCTAssertEqual(blockedRails(plan), ["account-move"])
        // alice owned northwind-live as owner of its customer; frank now does.
        XCTAssertTrue(plan.accessDelta.contains {
            $0.user == "alice@northwind-media.example" && $0.change == .loss && $0.scope == ScopeRef(.account, "northwind-live")
        })
        XCTAssertTrue(plan.accessDelta.contains {
            $0.user == "frank@bluebird-studio.example" && $0.change == .gain && $0.scope == ScopeRef(.account, "northwind-live")
        })
        try ws.applyAndConverge(["--allow", "account-move"])
        XCTAssertEqual(try ws.strings("SELECT customer_id FROM accounts WHERE id = 'northwind-live'"), ["bluebird-studio"])
    }

    // MARK: Deactivation and reactivation of scopes

    func testInactiveAccountIsDeactivatedAndItsMembershipsRevoked() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.bluebird, "status: active\n", "status: inactive\n")
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership dan@partner.example@account:bluebird-tv",
                                     "deactivate account bluebird-tv"])
        XCTAssertEqual(plan.changes[0].reason, "account deactivated")
        XCTAssertEqual(plan.changes[1].reason, "declared inactive")
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.int("SELECT active FROM accounts WHERE id = 'bluebird-tv'"), 0)

        try ws.edit(Quickstart.bluebird, "status: inactive\n", "status: active\n")
        let again = try ws.plan()
        XCTAssertEqual(lines(again), ["reactivate account bluebird-tv", "grant membership dan@partner.example@account:bluebird-tv"])
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.int("SELECT active FROM accounts WHERE id = 'bluebird-tv'"), 1)
    }

    func testCustomerRemovedFromTheFilesIsDeactivatedWithItsAccounts() throws {
        let ws = try Quickstart.applied()
        try ws.remove(Quickstart.bluebird)
        let plan = try ws.plan()
        XCTAssertEqual(lines(plan), ["revoke membership dan@partner.example@account:bluebird-tv",
                                     "deactivate customer bluebird-studio", "deactivate account bluebird-tv"])
        XCTAssertEqual(plan.changes.map(\.reason), ["account deactivated", "removed from the files", "removed from the files"])
        XCTAssertEqual(blockedRails(plan), ["customer-deactivation"])
        try ws.applyAndConverge(["--allow", "customer-deactivation"])
        XCTAssertEqual(try ws.strings("SELECT id || '=' || active FROM customers ORDER BY id"),
                       ["bluebird-studio=0", "northwind-media=1"], "a deactivated customer is kept")
    }

    func testCustomerDeclaredInactiveEndsAccessToItsAccounts() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.bluebird, "owner: frank@bluebird-studio.example\n", "owner: frank@bluebird-studio.example\nstatus: inactive\n")
        let plan = try ws.plan()
        XCTAssertTrue(lines(plan).contains("deactivate customer bluebird-studio"), lines(plan).joined(separator: "\n"))
        XCTAssertEqual(blockedRails(plan), ["customer-deactivation"])
        // Deactivating a whole customer ends what its accounts grant, as removing it from the files does.
        XCTAssertTrue(lines(plan).contains("revoke membership dan@partner.example@account:bluebird-tv"),
                      "dan keeps his roles on bluebird-tv, an account of a deactivated customer:\n"
                      + lines(plan).joined(separator: "\n"))
        XCTAssertTrue(plan.accessDelta.contains {
            $0.user == "dan@partner.example" && $0.change == .loss && $0.scope == ScopeRef(.account, "bluebird-tv")
        }, "the access delta must show dan losing bluebird-tv")
    }

    func testCustomerDeclaredActiveAgainIsReactivated() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.bluebird, "owner: frank@bluebird-studio.example\n", "owner: frank@bluebird-studio.example\nstatus: inactive\n")
        try ws.apply(["--allow", "customer-deactivation"])
        XCTAssertEqual(try ws.int("SELECT active FROM customers WHERE id = 'bluebird-studio'"), 0)
        try ws.edit(Quickstart.bluebird, "status: inactive\n", "status: active\n")
        let plan = try ws.plan()
        XCTAssertTrue(lines(plan).contains("reactivate customer bluebird-studio"), lines(plan).joined(separator: "\n"))
        XCTAssertEqual(blockedRails(plan), [], "reactivating trips no rail")
        XCTAssertTrue(plan.accessDelta.contains { $0.user == "frank@bluebird-studio.example" && $0.change == .gain })
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.int("SELECT active FROM customers WHERE id = 'bluebird-studio'"), 1)
    }
}
