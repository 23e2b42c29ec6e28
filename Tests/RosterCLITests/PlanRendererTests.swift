import Foundation
@testable import RosterCLI
import RosterCore
import XCTest

/// The plan renderers on hand-built plans: golden files for every format, colour only on
/// request, the markdown size cap, determinism and a JSON round trip.
final class PlanRendererTests: XCTestCase {

    // MARK: Golden files

    func testTextOfMixedPlanMatchesGolden() {
        assertGolden(TextPlanRenderer(color: false).render(PlanSamples.mixed), named: "plan-mixed.txt")
    }

    func testMarkdownOfMixedPlanMatchesGolden() {
        assertGolden(MarkdownPlanRenderer().render(PlanSamples.mixed), named: "plan-mixed.md")
    }

    func testJSONOfMixedPlanMatchesGolden() {
        assertGolden(JSONPlanRenderer().render(PlanSamples.mixed), named: "plan-mixed.json")
    }

    // MARK: Text

    func testColourOnlyWhenAsked() {
        let coloured = TextPlanRenderer(color: true).render(PlanSamples.mixed)
        let plain = TextPlanRenderer(color: false).render(PlanSamples.mixed)
        XCTAssertTrue(coloured.contains("\u{1B}["))
        XCTAssertFalse(plain.contains("\u{1B}"))
        let stripped = coloured.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        XCTAssertEqual(stripped, plain)
    }

    /// The change lines are rendered a window at a time in parts on every core; where the windows
    /// and parts begin and end (in the middle of a group too) changes nothing.
    func testTextIsTheSameWhateverTheWindowOfLines() {
        for plan in [PlanSamples.mixed, PlanSamples.huge] {
            let whole = TextPlanRenderer(color: true, linesPerWindow: 1_000_000).render(plan)
            for window in [1, 2, 3, 7, 4_096] {
                // Compared line by line: the whole text of the large plan is a megabyte.
                let lines = TextPlanRenderer(color: true, linesPerWindow: window).render(plan).split(separator: "\n")
                let expected = whole.split(separator: "\n")
                let first = zip(lines, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                XCTAssertTrue(first == nil && lines.count == expected.count,
                              "\(plan.changes.count) changes, windows of \(window): line \(first.map { $0 + 1 } ?? 0) "
                                + "is \(first.map { String(lines[$0]) } ?? "-"), not \(first.map { String(expected[$0]) } ?? "-")")
            }
        }
        let text = TextPlanRenderer(color: false, linesPerWindow: 7).render(PlanSamples.huge)
        XCTAssertEqual(text.components(separatedBy: "\nCustomer bulk\n").count, 2)
        XCTAssertEqual(text.components(separatedBy: "\n  Account bulk-07\n").count, 2)
        XCTAssertTrue(text.hasPrefix("Directory\n  + invite user user0001@bulk.example"), String(text.prefix(200)))
    }

    func testTextEndsWithTheSummaryLine() {
        let lines = TextPlanRenderer(color: true).render(PlanSamples.mixed).split(separator: "\n")
        XCTAssertEqual(lines.last.map(String.init), PlanSamples.mixed.summary.line)
    }

    func testTextPutsRiskierChangesFirstInEachGroup() throws {
        let text = TextPlanRenderer(color: false).render(PlanSamples.mixed)
        let deactivate = try XCTUnwrap(text.range(of: "- deactivate user dan@partner.example"))
        let invite = try XCTUnwrap(text.range(of: "+ invite user Erin@acme.example"))
        XCTAssertLessThan(deactivate.lowerBound, invite.lowerBound)
        let revoke = try XCTUnwrap(text.range(of: "- revoke membership gus@partner.example"))
        let grant = try XCTUnwrap(text.range(of: "+ grant membership carol@acme.example@account:acme-live"))
        XCTAssertLessThan(revoke.lowerBound, grant.lowerBound)
    }

    func testEmptyPlanIsJustTheSummary() {
        XCTAssertEqual(TextPlanRenderer(color: true).render(PlanSamples.empty),
                       "No changes. The store matches the files.\n")
        let markdown = MarkdownPlanRenderer().render(PlanSamples.empty)
        XCTAssertTrue(markdown.contains("**No changes. The store matches the files.**"), markdown)
        XCTAssertFalse(markdown.contains("| action |"), markdown)
        XCTAssertFalse(markdown.contains("<details>"), markdown)
    }

    func testTextShowsTwoHundredAccessRowsThenPointsAtJSON() {
        let text = TextPlanRenderer(color: false).render(PlanSamples.huge)
        let access = text.components(separatedBy: "\nAccess changes\n").last ?? ""
        let rows = access.split(separator: "\n").filter { $0.hasPrefix("    + ") }
        XCTAssertEqual(rows.count, 200)
        XCTAssertTrue(text.contains("\n  … 4,800 more access changes not shown; "
                                    + "roster plan --format json lists them all.\n\nPlan: 5000 to invite, 5000 to change.\n"),
                      String(text.suffix(400)))
    }

    func testHostileValuesCannotDriveTheTerminal() {
        var plan = PlanSamples.empty
        plan.warnings = ["name \u{1B}[2J\u{202E}txt.exe"]
        let text = TextPlanRenderer(color: false).render(plan)
        XCTAssertFalse(text.contains("\u{1B}"))
        XCTAssertFalse(text.contains("\u{202E}"))
        XCTAssertTrue(text.contains(#"name \u{1B}[2J\u{202E}txt.exe"#), text)
    }

    // MARK: Markdown

    func testMarkdownOfHugePlanStaysUnderTheLimitAndSaysWhatWasFolded() {
        let markdown = MarkdownPlanRenderer().render(PlanSamples.huge)
        XCTAssertLessThan(markdown.count, 60_000)
        XCTAssertTrue(markdown.contains("_The list of all 10,000 changes is folded; run `roster plan --format json`"),
                      markdown)
        XCTAssertTrue(markdown.contains(
            "more access changes not shown; run `roster plan --format json` for the full plan._"), markdown)
        XCTAssertTrue(markdown.contains("_Parts of this plan are folded"), markdown)
        // As many access rows as fit: the comment is nearly full, not needlessly short.
        XCTAssertGreaterThan(markdown.count, 55_000)
    }

    func testMarkdownFoldsLowRiskDetailBeforeTheAccessDelta() {
        let plan = PlanSamples.mixed
        let full = MarkdownPlanRenderer().render(plan)
        // Just too short for every change: the low-risk lines go, the access delta stays whole.
        let folded = MarkdownPlanRenderer(limit: full.count - 50).render(plan)
        XCTAssertLessThan(folded.count, full.count - 50)
        XCTAssertTrue(folded.contains("low-risk changes not shown"), folded)
        XCTAssertFalse(folded.contains("access changes not shown"), folded)
        XCTAssertFalse(folded.contains("+ grant membership"), folded)
    }

    func testMarkdownIsAlwaysUnderTheLimit() {
        for limit in [200, 1_000, 2_500, 5_000, 20_000, 60_000] {
            for plan in [PlanSamples.mixed, PlanSamples.huge, PlanSamples.empty] {
                let markdown = MarkdownPlanRenderer(limit: limit).render(plan)
                XCTAssertLessThan(markdown.count, limit, "limit \(limit), \(plan.summary.line)")
            }
        }
    }

    func testSmallPlanIsNotFolded() {
        let markdown = MarkdownPlanRenderer().render(PlanSamples.mixed)
        XCTAssertFalse(markdown.contains("not shown"), markdown)
        XCTAssertFalse(markdown.contains("folded"), markdown)
        XCTAssertTrue(markdown.contains("<details><summary>All 10 changes</summary>"), markdown)
    }

    func testMarkdownEscapesUserValuesInTables() {
        var plan = PlanSamples.empty
        plan.accessDelta = [AccessChange(user: "a|b<c>`d@x.example", scope: ScopeRef(.account, "web"), change: .gain,
                                         permissions: ["streams:read"], via: "role viewer on account web",
                                         source: "dir/a|b.yaml:1:1")]
        let markdown = MarkdownPlanRenderer().render(plan)
        XCTAssertTrue(markdown.contains(#"| a\|b&lt;c&gt;\`d@x.example | gains |"#), markdown)
        XCTAssertTrue(markdown.contains(#"| `dir/a\|b.yaml:1:1` |"#), markdown)
    }

    // MARK: Every format

    func testRenderingTwiceGivesIdenticalOutput() {
        for plan in [PlanSamples.mixed, PlanSamples.huge, PlanSamples.empty] {
            XCTAssertEqual(TextPlanRenderer(color: true).render(plan), TextPlanRenderer(color: true).render(plan))
            XCTAssertEqual(MarkdownPlanRenderer().render(plan), MarkdownPlanRenderer().render(plan))
            XCTAssertEqual(JSONPlanRenderer().render(plan), JSONPlanRenderer().render(plan))
        }
    }

    func testJSONRoundTrips() throws {
        for plan in [PlanSamples.mixed, PlanSamples.empty] {
            let json = JSONPlanRenderer().render(plan)
            XCTAssertEqual(try Plan.read(json: Data(json.utf8)), plan)
        }
    }

    func testIdentifiersMatchTheFormatOption() {
        XCTAssertEqual(TextPlanRenderer.identifier, .text)
        XCTAssertEqual(MarkdownPlanRenderer.identifier, .markdown)
        XCTAssertEqual(JSONPlanRenderer.identifier, .json)
        XCTAssertTrue(PlanRenderers.renderer(for: .markdown, color: false, command: "roster plan") is MarkdownPlanRenderer)
        XCTAssertTrue(PlanRenderers.renderer(for: .json, color: false, command: "roster plan") is JSONPlanRenderer)
    }
}

/// Plans built by hand, shaped like the planner's output.
enum PlanSamples {
    static let store = StoreInfo(backend: "sqlite", lineage: "6f1c2a9e-0d4b-4c2f-9a51-3e7d8b0c1f24", serial: 41)
    static let desired = DesiredInfo(digest: "9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f",
                                     commit: "3b7e1f0a9c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f")
    static let everything = ["analytics:read", "billing:read", "billing:update", "streams:create",
                             "streams:delete", "streams:read", "streams:update",
                             "users:invite", "users:read", "users:remove", "users:update"]

    static var empty: Plan {
        Plan(desired: desired, store: store, changes: [], accessDelta: [], rails: rails())
    }

    /// A role update, an invite, a drifted grant, a change of roles, an expired and a removed
    /// membership, an ownership transfer (blocked), and a removed user with a pending invitation.
    static var mixed: Plan {
        let acmeFile = "directory/customers/acme.yaml"
        func member(_ user: String, _ scope: ScopeRef, _ roles: [String], expires: String? = nil) -> EntityValue {
            .membership(MembershipState(key: MembershipKey(user: user, scope: scope), roles: roles, expires: expires))
        }
        let acme = ScopeRef(.customer, "acme")
        let live = ScopeRef(.account, "acme-live")
        let dan = UserState(email: "dan@partner.example", name: "Dan Partner", status: .invited)
        var danAfter = dan
        danAfter.status = .inactive
        func admin(_ permissions: [String: [String]]) -> EntityValue {
            .role(RoleState(id: "admin", name: "Administrator", description: nil, permissions: permissions))
        }
        func acmeOwned(by owner: String) -> EntityValue {
            .customer(CustomerState(id: "acme", name: "ACME Corp", owner: owner, active: true))
        }
        let changes = [
            Change(action: .update, type: .role, id: "admin",
                   before: admin(["billing": ["read", "update"], "streams": ["read", "update"]]),
                   after: admin(["billing": ["read"], "streams": ["delete", "read", "update"]]),
                   risk: .medium, source: "directory/roles.yaml:2:5"),
            Change(action: .invite, type: .user, id: "Erin@acme.example",
                   after: .user(UserState(email: "Erin@acme.example", name: "Erin Example", status: .invited)),
                   source: "directory/users.yaml:14:8",
                   invitation: InvitationPlan(user: "erin@acme.example", email: "Erin@acme.example",
                                              inviter: "bob@acme.example",
                                              grants: [InvitationGrant(scope: live, roles: ["viewer"])])),
            Change(action: .transferOwnership, type: .customer, id: "acme", customer: "acme",
                   before: acmeOwned(by: "alice@acme.example"), after: acmeOwned(by: "bob@acme.example"),
                   risk: .high, source: "\(acmeFile):2:5", reason: "from alice@acme.example to bob@acme.example"),
            Change(action: .create, type: .account, id: "globex-web", customer: "globex", account: "globex-web",
                   after: .account(AccountState(id: "globex-web", customer: "globex", name: "Globex Web Meetings",
                                                service: "web-meeting", owner: "hank@globex.example", active: true)),
                   source: "directory/customers/globex.yaml:12:5"),
            Change(action: .grant, type: .membership, id: "carol@acme.example@account:acme-live", customer: "acme",
                   account: "acme-live", after: member("carol@acme.example", live, ["admin", "reporting"]),
                   drift: true, source: "\(acmeFile):31:5"),
            Change(action: .changeRoles, type: .membership, id: "carol@acme.example@customer:acme", customer: "acme",
                   before: member("carol@acme.example", acme, ["viewer"]),
                   after: member("carol@acme.example", acme, ["admin", "viewer"]), risk: .medium,
                   source: "\(acmeFile):9:5"),
            Change(action: .revoke, type: .membership, id: "dan@partner.example@account:acme-live", customer: "acme",
                   account: "acme-live", before: member("dan@partner.example", live, ["viewer"]), risk: .medium,
                   reason: "user removed"),
            Change(action: .revoke, type: .membership, id: "gus@partner.example@account:acme-live", customer: "acme",
                   account: "acme-live", before: member("gus@partner.example", live, ["viewer"], expires: "2026-10-31"),
                   risk: .medium, source: "\(acmeFile):35:5", reason: "expired 2026-10-31"),
            Change(action: .revokeInvitation, type: .invitation, id: "dan@partner.example", risk: .medium,
                   reason: "user deactivated; invitation inv-7"),
            Change(action: .deactivate, type: .user, id: "dan@partner.example", before: .user(dan),
                   after: .user(danAfter), risk: .high, reason: "removed from the files"),
        ]
        let viewer = ["analytics:read", "streams:read"]
        let access = [
            AccessChange(user: "alice@acme.example", scope: acme, change: .loss, permissions: everything,
                         via: "owner of customer acme", source: nil),
            AccessChange(user: "alice@acme.example", scope: live, change: .loss, permissions: everything,
                         via: "owner of customer acme", source: nil),
            AccessChange(user: "bob@acme.example", scope: acme, change: .gain, permissions: everything,
                         via: "owner of customer acme", source: "\(acmeFile):2:5"),
            AccessChange(user: "carol@acme.example", scope: acme, change: .gain,
                         permissions: ["billing:read", "streams:delete", "streams:update"],
                         via: "role admin on customer acme", source: "\(acmeFile):9:5"),
            AccessChange(user: "carol@acme.example", scope: live, change: .gain,
                         permissions: ["billing:read", "streams:delete", "streams:read", "streams:update"],
                         via: "role admin on account acme-live", source: "\(acmeFile):31:5"),
            AccessChange(user: "carol@acme.example", scope: live, change: .gain, permissions: ["analytics:read"],
                         via: "role reporting on account acme-live", source: "\(acmeFile):31:5"),
            AccessChange(user: "dan@partner.example", scope: live, change: .loss, permissions: viewer,
                         via: "role viewer on account acme-live", source: nil),
            AccessChange(user: "Erin@acme.example", scope: live, change: .gain, permissions: viewer,
                         via: "role viewer on account acme-live", source: "\(acmeFile):37:5"),
            AccessChange(user: "gus@partner.example", scope: live, change: .loss, permissions: viewer,
                         via: "role viewer on account acme-live", source: nil),
            AccessChange(user: "ivy@acme.example", scope: acme, change: .gain, permissions: ["streams:delete"],
                         via: "role admin on customer acme", source: "\(acmeFile):11:5"),
            AccessChange(user: "ivy@acme.example", scope: acme, change: .loss, permissions: ["billing:update"],
                         via: "role admin on customer acme", source: nil),
        ].sorted()
        return Plan(desired: desired, store: store, changes: changes, accessDelta: access,
                    rails: rails(deactivations: 1, removals: 2, transfers: 1),
                    warnings: ["invitation of 'frank@acme.example' expired and was re-issued 3 times (maxReissues 3); "
                               + "run 'roster invitations resend frank@acme.example' to send a new one"])
    }

    /// 5,000 new users, each invited and granted a role on one of 50 accounts.
    static let huge: Plan = {
        var changes: [Change] = []
        var grants: [Change] = []
        var access: [AccessChange] = []
        for index in 1...5_000 {
            let email = "user\(String(format: "%04d", index))@bulk.example"
            let account = "bulk-\(String(format: "%02d", index % 50))"
            let scope = ScopeRef(.account, account)
            let source = "directory/customers/bulk.yaml:\(index * 3):5"
            changes.append(Change(action: .invite, type: .user, id: email,
                                  after: .user(UserState(email: email, name: nil, status: .invited)),
                                  source: "directory/users/bulk.yaml:\(index * 2):10"))
            grants.append(Change(action: .grant, type: .membership, id: "\(email)@account:\(account)", customer: "bulk",
                                 account: account,
                                 after: .membership(MembershipState(key: MembershipKey(user: email, scope: scope),
                                                                    roles: ["viewer"], expires: nil)),
                                 source: source))
            access.append(AccessChange(user: email, scope: scope, change: .gain,
                                       permissions: ["analytics:read", "streams:read"],
                                       via: "role viewer on account \(account)", source: source))
        }
        return Plan(desired: desired, store: store, changes: changes + grants, accessDelta: access.sorted(),
                    rails: rails())
    }()

    /// Every rail, as the planner reports them; only ownership transfers block here.
    static func rails(deactivations: Int = 0, removals: Int = 0, transfers: Int = 0) -> [RailCheck] {
        func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
        return [
            RailCheck(rail: .massDeactivation, blocked: false, count: deactivations, limit: 3,
                      message: "\(plural(deactivations, "user")) deactivated; "
                        + "safety.maxUserDeactivations (10% of 30 active) allows 3"),
            RailCheck(rail: .massRemoval, blocked: false, count: removals, limit: 10,
                      message: "\(plural(removals, "membership")) revoked; "
                        + "safety.maxMembershipRemovals (25% of 40) allows 10"),
            RailCheck(rail: .ownershipTransfer, blocked: transfers > 0, count: transfers, limit: nil,
                      message: plural(transfers, "ownership transfer")),
            RailCheck(rail: .customerDeactivation, blocked: false, count: 0, limit: nil,
                      message: "0 customers deactivated"),
            RailCheck(rail: .accountMove, blocked: false, count: 0, limit: nil,
                      message: "0 accounts moved to another customer"),
        ]
    }
}
