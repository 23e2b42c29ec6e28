import RosterCore
@testable import RosterStore
import XCTest

/// The audit chain's hash is part of every store's data: a record written by any earlier
/// roster must verify with this one, so the hash is pinned to known answers here (computed
/// with Python's `hashlib` over the fields joined by newlines), not only checked against itself.
final class AuditChainTests: XCTestCase {
    func testHashIsSHA256OfTheFieldsJoinedByNewlines() {
        func hash(commit: String?) -> String {
            AuditChain.hash(previous: AuditChain.genesis, serial: 3, at: "2026-12-06T21:01:42Z", actor: "ci-bot",
                            commit: commit, action: "grant", entityType: "membership",
                            entityID: "ana@example.com@customer:acme", change: #"{"action":"grant","note":"é"}"#)
        }
        XCTAssertEqual(hash(commit: nil), "a1f8710823f384811fbf525fa92bdc038ec414f1bb58e198a64fef1850a4b933")
        XCTAssertEqual(hash(commit: "c13cf697d40286fd88b5d1657466a7747cd12f80"),
                       "93aaf0ee254320dd0cdf6b377e73934475b97386b4769f5d0fde5980ad5e74fd")
    }
}
