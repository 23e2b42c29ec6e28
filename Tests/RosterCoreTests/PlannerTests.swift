import Foundation
@testable import RosterCore
import XCTest

/// The planner on a directory large enough that its comparisons are split over threads and
/// that most entities are unchanged: what it finds, and the order it reports it in, must not
/// depend on the split, and places in the files are found on demand.
final class PlannerTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let file = "directory/sample.yaml"

    func email(_ n: Int) -> String { "user\(String(format: "%05d", n))@example.com" }

    func at(_ line: Int, _ column: Int = 1) -> SourceLocation { SourceLocation(file: file, line: line, column: column) }

    func config() -> Config {
        var config = Config()
        config.permissions.modules = [(name: Located("streams", at: at(1)), actions: [Located("read", at: at(1))])]
        return config
    }

    /// 1,200 users; 40 customers with 3 accounts each; user n is a member of customer n % 40
    /// and of account n % 120, with a role name longer than a small string.
    func directory() -> Directory {
        var directory = Directory()
        directory.roles = [
            Role(id: Located("viewer", at: at(2)), name: nil, description: nil,
                 permissions: [PermissionGrant(module: Located("streams", at: at(2)), actions: [Located("read", at: at(2))])],
                 location: at(2)),
            Role(id: Located("payment-management", at: at(3)), name: nil, description: nil, permissions: [], location: at(3)),
        ]
        directory.users = (0..<1_200).map { n in
            User(email: Located(email(n), at: at(10 + n)), name: "User \(n)", status: .active, previousEmails: [],
                 location: at(10 + n))
        }
        func members(_ users: [Int], line: Int) -> [Member] {
            users.enumerated().map { offset, n in
                Member(user: Located(email(n), at: at(line + offset, 7)),
                       roles: [Located(n % 2 == 0 ? "viewer" : "payment-management", at: at(line + offset, 14))],
                       expires: nil, location: at(line + offset, 5))
            }
        }
        directory.customers = (0..<40).map { c in
            Customer(id: Located("c\(c)", at: at(2_000 + c * 100)), name: nil, owner: Located(email(c), at: at(2_000 + c * 100)),
                     status: .active, accountLimit: nil,
                     members: members(Array(stride(from: c, to: 1_200, by: 40)), line: 2_001 + c * 100),
                     location: at(2_000 + c * 100))
        }
        directory.accounts = (0..<120).map { a in
            Account(id: Located("a\(a)", at: at(10_000 + a * 100)), customer: Located("c\(a % 40)", at: at(10_000 + a * 100)),
                    name: nil, service: nil, owner: nil, status: .active, memberLimit: nil,
                    members: members(Array(stride(from: a, to: 1_200, by: 120)), line: 10_001 + a * 100),
                    location: at(10_000 + a * 100))
        }
        return directory
    }

    func desired() -> DesiredDirectory {
        DesiredDirectory(config: config(), directory: directory(), today: Day(containing: now))
    }

    func plan(_ desired: DesiredDirectory, stored: DirectoryState,
              invitations: [String: PendingInvitation] = [:]) -> Plan {
        let snapshot = Snapshot(store: StoreInfo(backend: "test", lineage: "l", serial: 1), state: stored,
                                invitations: invitations, everAccepted: Set(stored.users.keys))
        return Planner(config: config(), now: now).plan(desired: desired, snapshot: snapshot,
                                                        info: DesiredInfo(digest: "d", commit: nil))
    }

    func testUnchangedStorePlansNothing() {
        let desired = desired()
        XCTAssertEqual(desired.state.memberships.count, 2_400)
        let plan = plan(desired, stored: desired.state)
        XCTAssertTrue(plan.isEmpty)
        XCTAssertEqual(plan.changes, [])
        XCTAssertEqual(plan.accessDelta, [])
    }

    func testMembershipDifferencesComeOutSortedWithTheirPlaces() throws {
        let desired = desired()
        var stored = desired.state
        let keys = desired.state.memberships.keys.sorted()
        // As many stored-only memberships as missing ones, so the counts alone cannot tell.
        let missing = [keys[5], keys[900], keys[1_700], keys[2_399]]
        for key in missing { stored.memberships[key] = nil }
        let extra = (0..<4).map { MembershipKey(user: email(7 + $0), scope: ScopeRef(.account, "a\(119 - $0)")) }
        for key in extra { stored.memberships[key] = MembershipState(key: key, roles: ["viewer"], expires: nil) }
        let rolesChanged = [keys[77], keys[1_234]]
        for key in rolesChanged { stored.memberships[key]?.roles = ["payment-management", "viewer"] }
        let expiresChanged = keys[2_000]
        stored.memberships[expiresChanged]?.expires = "2030-01-01"

        let plan = plan(desired, stored: stored)
        let grants = plan.changes.filter { $0.type == .membership && $0.action != .revoke }
        XCTAssertEqual(grants.map(\.id), (missing + rolesChanged + [expiresChanged]).sorted().map(membershipID))
        XCTAssertEqual(grants.filter { $0.action == .grant }.count, 4)
        XCTAssertEqual(grants.filter { $0.action == .changeRoles }.count, 2)
        XCTAssertEqual(grants.filter { $0.action == .update }.count, 1)
        let revokes = plan.changes.filter { $0.action == .revoke }
        XCTAssertEqual(revokes.map(\.id), extra.sorted().map(membershipID))
        XCTAssertEqual(Set(revokes.compactMap(\.reason)), ["removed from the files"])

        // Places come from the members lists, found only now that something changed.
        let sources = desired.sources()
        let keyOfID = Dictionary(uniqueKeysWithValues: keys.map { (membershipID($0), $0) })
        for change in grants {
            let key = try XCTUnwrap(keyOfID[change.id])
            XCTAssertNotNil(change.source)
            XCTAssertEqual(change.source, sources.member(key)?.description)
        }
        XCTAssertFalse(plan.accessDelta.isEmpty)
        XCTAssertTrue(plan.accessDelta.allSatisfy { $0.change == .loss || $0.source != nil })
    }

    /// A change of roles alone changes access: its user's loss is in the delta, and an expiry
    /// change beside it adds nothing there.
    func testARoleChangeAloneShowsInTheAccessDelta() throws {
        let desired = desired()
        var stored = desired.state
        let key = MembershipKey(user: email(241), scope: ScopeRef(.account, "a1"))
        XCTAssertEqual(desired.state.memberships[key]?.roles, ["payment-management"])
        stored.memberships[key]?.roles = ["viewer"]
        let expiring = MembershipKey(user: email(242), scope: ScopeRef(.account, "a2"))
        stored.memberships[expiring]?.expires = "2030-01-01"

        let plan = plan(desired, stored: stored)
        XCTAssertEqual(plan.changes.map(\.action), [.changeRoles, .update])
        let loss = try XCTUnwrap(plan.accessDelta.first)
        XCTAssertEqual(plan.accessDelta.count, 1)
        XCTAssertEqual([loss.user, loss.scope.id], [email(241), "a1"])
        XCTAssertEqual(loss.change, .loss)
        XCTAssertEqual(loss.permissions, ["streams:read"])
    }

    func testUserDifferencesComeOutSorted() {
        let desired = desired()
        var stored = desired.state
        // Missing from the store: invited. In the store only: deactivated. Renamed: updated.
        for n in [3, 640, 1_199] { stored.users[email(n)] = nil }
        for n in [1_200, 1_201] {
            stored.users[email(n)] = UserState(email: email(n), name: nil, status: .active)
        }
        stored.users[email(12)]?.name = "Someone else"
        // Invited long ago and never accepted: the invitation is re-issued.
        stored.users[email(500)]?.status = .invited
        let expired = PendingInvitation(id: "inv-1", user: email(500), expiresAt: now - 86_400, reissueCount: 0)

        let plan = plan(desired, stored: stored, invitations: [email(500): expired])
        XCTAssertEqual(plan.changes.filter { $0.type == .user && $0.action != .deactivate }.map(\.id),
                       [email(3), email(12), email(640), email(1_199)])
        XCTAssertEqual(plan.changes.filter { $0.type == .user && $0.action != .deactivate }.map(\.action),
                       [.invite, .update, .invite, .invite])
        XCTAssertEqual(plan.changes.filter { $0.action == .deactivate }.map(\.id), [email(1_200), email(1_201)])
        XCTAssertEqual(plan.changes.filter { $0.action == .reissueInvitation }.map(\.id), [email(500)])
        XCTAssertEqual(plan.changes.first { $0.id == email(640) }?.source, at(650).description)
    }

    func testSourcesFindTheLastDeclaration() {
        var directory = directory()
        let first = directory.customers[1]
        var again = first
        again.id.location = at(99_000)
        again.members = [Member(user: Located(email(2), at: at(99_001, 7)), roles: [], expires: nil, location: at(99_001, 5))]
        directory.customers.append(again)
        directory.users.append(User(email: Located(email(4).uppercased(), at: at(99_100)), name: nil, status: .active,
                                    previousEmails: [], location: at(99_100)))
        let sources = DesiredDirectory(config: config(), directory: directory, today: Day(containing: now)).sources()
        XCTAssertEqual(sources.customer("c1"), at(99_000))
        XCTAssertEqual(sources.account("a7"), at(10_700))
        XCTAssertEqual(sources.role("payment-management"), at(3))
        XCTAssertEqual(sources.user(email(4)), at(99_100))
        XCTAssertEqual(sources.user(email(5)), at(15))
        // In the last declaration of c1, else in an earlier one.
        XCTAssertEqual(sources.member(MembershipKey(user: email(2), scope: ScopeRef(.customer, "c1"))), at(99_001, 5))
        XCTAssertEqual(sources.member(MembershipKey(user: email(41), scope: ScopeRef(.customer, "c1"))), at(2_102, 5))
        XCTAssertNil(sources.member(MembershipKey(user: email(42), scope: ScopeRef(.customer, "c1"))))
        XCTAssertNil(sources.member(MembershipKey(user: email(1), scope: ScopeRef(.account, "a1000"))))
        XCTAssertNil(sources.customer("c1000"))
    }

    func membershipID(_ key: MembershipKey) -> String {
        "\(key.user)@\(key.scope.kind.rawValue):\(key.scope.id)"
    }

    // MARK: MembershipKey

    func testMembershipKeysCompareScopeAndUser() {
        // Separately built strings, as a store and the files produce them.
        let user = ["user00001", "@example.com"].joined()
        let a = MembershipKey(user: user, scope: ScopeRef(.account, "a1"))
        let b = MembershipKey(user: "user00001@example.com", scope: ScopeRef(.account, "a1"))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(a, MembershipKey(user: user, scope: ScopeRef(.customer, "a1")))
        XCTAssertNotEqual(a, MembershipKey(user: user, scope: ScopeRef(.account, "a2")))
        XCTAssertNotEqual(a, MembershipKey(user: "user00002@example.com", scope: ScopeRef(.account, "a1")))
        XCTAssertEqual([a: 1][b], 1)
    }
}
