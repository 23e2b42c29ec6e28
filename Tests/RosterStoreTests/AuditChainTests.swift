import RosterCore
@testable import RosterStore
import XCTest

/// The audit chain's hash is part of every store's data: a record written by any earlier
/// roster must verify with this one, so the hash is pinned to known answers here (computed
/// with Python's `hashlib` over the fields joined by newlines), not only checked against itself.
final class AuditChainTests: XCTestCase {
    func testHashIsSHA256OfTheFieldsJoinedByNewlines() {
        let fields = (previous: AuditChain.genesis, serial: 3, at: "2026-12-06T21:01:42Z", actor: "ci-bot",
                      action: "grant", type: "membership", id: "ana@example.com@customer:acme",
                      change: #"{"action":"grant","note":"é"}"#)
        let withoutCommit = AuditChain.hash(previous: fields.previous, serial: fields.serial, at: fields.at,
                                            actor: fields.actor, commit: nil, action: fields.action,
                                            entityType: fields.type, entityID: fields.id, change: fields.change)
        XCTAssertEqual(withoutCommit, "a1f8710823f384811fbf525fa92bdc038ec414f1bb58e198a64fef1850a4b933")
        let withCommit = AuditChain.hash(previous: fields.previous, serial: fields.serial, at: fields.at,
                                         actor: fields.actor, commit: "c13cf697d40286fd88b5d1657466a7747cd12f80",
                                         action: fields.action, entityType: fields.type, entityID: fields.id,
                                         change: fields.change)
        XCTAssertEqual(withCommit, "93aaf0ee254320dd0cdf6b377e73934475b97386b4769f5d0fde5980ad5e74fd")
    }
}
