import Foundation
@testable import RosterCore
import XCTest

/// The hand-written plan JSON is byte for byte what JSONEncoder writes, and reads back.
final class PlanJSONTests: XCTestCase {
    func encoderJSON(_ plan: Plan) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(plan), as: UTF8.self) + "\n"
    }

    func samplePlan() -> Plan {
        let scope = ScopeRef(.account, "acme-live")
        let membership = MembershipState(key: MembershipKey(user: "dan@x.example", scope: scope), roles: ["admin", "viewer"],
                                         expires: "2027-01-31")
        let role = RoleState(id: "admin", name: "Admin \"quoted\"", description: "line\nbreak\ttab/slash \u{1} ünïcode",
                             permissions: ["streams": ["read", "update"], "billing": []])
        let changes = [
            Change(action: .create, type: .role, id: "admin", after: .role(role), source: "directory/roles.yaml:2:5"),
            Change(action: .invite, type: .user, id: "Dan@x.example",
                   after: .user(UserState(email: "Dan@x.example", name: nil, status: .invited)),
                   invitation: InvitationPlan(user: "dan@x.example", email: "Dan@x.example", inviter: "alice@x.example",
                                              grants: [InvitationGrant(scope: scope, roles: ["admin"])])),
            Change(action: .transferOwnership, type: .customer, id: "acme", customer: "acme",
                   before: .customer(CustomerState(id: "acme", name: nil, owner: "a", active: true)),
                   after: .customer(CustomerState(id: "acme", name: "ACME", owner: "b", active: true)),
                   risk: .high, drift: true, reason: "from a to b"),
            Change(action: .move, type: .account, id: "acme-live", customer: "acme", account: "acme-live",
                   after: .account(AccountState(id: "acme-live", customer: "acme", name: nil, service: "on",
                                                owner: "b", active: false)), risk: .high),
            Change(action: .revoke, type: .membership, id: "dan@x.example@account:acme-live", customer: "acme",
                   account: "acme-live", before: .membership(membership), risk: .medium, reason: "expired 2027-01-31"),
            Change(action: .revokeInvitation, type: .invitation, id: "dan@x.example", risk: .medium),
        ]
        let access = [AccessChange(user: "dan@x.example", scope: scope, change: .loss, permissions: ["streams:read"],
                                   via: "role admin on account acme-live", source: nil)]
        let rails = [RailCheck(rail: .ownershipTransfer, blocked: true, count: 1, limit: nil, message: "1 transfer"),
                     RailCheck(rail: .massRemoval, blocked: false, count: 1, limit: 0, message: "1 membership")]
        return Plan(desired: DesiredInfo(digest: "abc", commit: nil), store: StoreInfo(backend: "sqlite", lineage: "l", serial: 3),
                    changes: changes, accessDelta: access, rails: rails, warnings: ["re-issued 3 times"])
    }

    /// A change's invitation is kept out of line (`Boxed`) but is still a value: copies are
    /// independent, and equality and hashing go by what the invitation says.
    func testChangeInvitationIsAValue() {
        let invitation = InvitationPlan(user: "dan@x.example", email: "Dan@x.example", inviter: nil,
                                        grants: [InvitationGrant(scope: ScopeRef(.customer, "acme"), roles: ["admin"])])
        let change = Change(action: .invite, type: .user, id: "Dan@x.example", invitation: invitation)
        var copy = change
        XCTAssertEqual(copy, change)
        XCTAssertEqual(copy.hashValue, Change(action: .invite, type: .user, id: "Dan@x.example", invitation: invitation).hashValue)
        copy.invitation?.grants[0].roles = ["viewer"]
        XCTAssertNotEqual(copy, change)
        XCTAssertEqual(change.invitation?.grants[0].roles, ["admin"], "the original is unchanged")
        copy.invitation = nil
        XCTAssertNil(copy.invitation)
        XCTAssertNotEqual(copy, change)
    }

    func testSameBytesAsJSONEncoder() throws {
        let plan = samplePlan()
        XCTAssertEqual(String(decoding: try plan.jsonData(), as: UTF8.self), try encoderJSON(plan))
    }

    func testEmptyPlanSameBytesAsJSONEncoder() throws {
        let empty = Plan(desired: DesiredInfo(digest: "d", commit: "c"), store: StoreInfo(backend: "git", lineage: "x", serial: 0),
                         changes: [], accessDelta: [], rails: [])
        XCTAssertEqual(String(decoding: try empty.jsonData(), as: UTF8.self), try encoderJSON(empty))
    }

    /// The audit log's compact form of each change, and an invitation's details, are what
    /// JSONEncoder writes with sorted keys.
    func testCompactSameBytesAsJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for change in samplePlan().changes {
            XCTAssertEqual(change.compactJSON, String(decoding: try encoder.encode(change), as: UTF8.self))
            if let invitation = change.invitation {
                XCTAssertEqual(invitation.compactJSON, String(decoding: try encoder.encode(invitation), as: UTF8.self))
            }
        }
    }

    /// Streamed in small chunks, the bytes are the same, and every chunk is whole UTF-8.
    func testStreamedInChunksIsTheSameDocument() throws {
        let plan = samplePlan()
        var chunks: [[UInt8]] = []
        plan.writeJSON(chunkSize: 64) { chunks.append($0) }
        XCTAssertGreaterThan(chunks.count, 10)
        XCTAssertEqual(Data(chunks.joined()), plan.jsonData())
        for chunk in chunks { XCTAssertNotNil(String(validatingUTF8: chunk.map { CChar(bitPattern: $0) } + [0])) }
    }

    /// Large arrays are written on every core a window at a time: the same bytes, whatever the
    /// window, the chunk size or where the parts fall.
    func testWrittenInParallelWindowsIsTheSameDocument() throws {
        let sample = samplePlan()
        var changes: [Change] = []
        var access: [AccessChange] = []
        for copy in 0..<37 {
            changes += sample.changes.map { var change = $0; change.id += "-\(copy)"; return change }
            access += sample.accessDelta.map { var row = $0; row.user = "u\(copy)@x.example"; return row }
        }
        let plan = Plan(desired: sample.desired, store: sample.store, changes: changes, accessDelta: access,
                        rails: sample.rails, warnings: sample.warnings)
        let expected = try encoderJSON(plan)
        for (window, chunkSize) in [(1, 1), (2, 100), (5, 4096), (36, 64), (1000, 1 << 20)] {
            var chunks: [[UInt8]] = []
            plan.writeJSON(chunkSize: chunkSize, window: window) { chunks.append($0) }
            XCTAssertEqual(String(decoding: chunks.joined(), as: UTF8.self), expected, "window \(window), chunks of \(chunkSize)")
        }
    }

    func testReadsBack() throws {
        let plan = samplePlan()
        XCTAssertEqual(try Plan.read(json: plan.jsonData()), plan)
    }
}
