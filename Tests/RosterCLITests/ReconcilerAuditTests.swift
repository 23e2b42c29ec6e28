import Foundation
import RosterCore
@testable import RosterStore
import XCTest

/// SPEC §7: the append-only audit log, its hash chain, `roster audit verify` and `roster history`.
final class ReconcilerAuditTests: XCTestCase {
    /// The quickstart applied (25 records), erin's invitation accepted (26), a name changed (27).
    func history() throws -> Workspace {
        let ws = try Quickstart.applied(accepted: false)
        try ws.accept(["erin@northwind-media.example"])
        try ws.edit(Quickstart.otherUsers, "name: Dan Partner", "name: Daniel Partner")
        ws.now += 3_600
        ws.actor = "second-engineer"
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), 27)
        return ws
    }

    /// Removes the triggers that keep the log append-only, as someone with file access could.
    func dropTriggers(_ ws: Workspace) throws {
        for trigger in ["audit_no_update", "audit_no_delete"] {
            try ws.execute("DROP TRIGGER \(trigger)" + (ws.isPostgres ? " ON audit" : ""))
        }
    }

    func testIntactLogVerifies() throws {
        let ws = try history()
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stdout, "The audit log is intact: 27 records verified.\n")
    }

    func testLogRefusesUpdatesAndDeletes() throws {
        let ws = try history()
        XCTAssertThrowsError(try ws.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 3"))
        XCTAssertThrowsError(try ws.execute("DELETE FROM audit WHERE seq = 3"))
        XCTAssertEqual(ws.run(["audit", "verify"]).status, 0)
    }

    func testModifiedRecordIsNamed() throws {
        let ws = try history()
        try dropTriggers(ws)
        try ws.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 12")
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertEqual(verify.stdout, "")
        XCTAssertEqual(verify.stderr, "error: the audit log was rewritten at record 12: record 12 was modified after it was written\n")
    }

    func testModifiedChangeIsNamed() throws {
        let ws = try history()
        try dropTriggers(ws)
        try ws.execute("""
            UPDATE audit SET change = replace(change, 'system-integrator', 'admin')
            WHERE seq = (SELECT seq FROM audit WHERE entity_id = 'dan@partner.example@account:northwind-live')
            """)
        let seq = try ws.int("SELECT seq FROM audit WHERE entity_id = 'dan@partner.example@account:northwind-live'")
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stderr.contains("rewritten at record \(seq): record \(seq) was modified"), verify.stderr)
    }

    func testRecordRewrittenWithARecomputedHashBreaksTheNextOne() throws {
        let ws = try history()
        try dropTriggers(ws)
        let fields = try ws.strings("SELECT serial || '|' || at || '|' || action || '|' || entity_type || '|' || entity_id || '|' || change || '|' || prev_hash FROM audit WHERE seq = 5")[0]
            .components(separatedBy: "|")
        let forged = AuditChain.hash(previous: fields[6], serial: Int(fields[0])!, at: fields[1], actor: "someone-else",
                                     commit: nil, action: fields[2], entityType: fields[3], entityID: fields[4], change: fields[5])
        try ws.execute("UPDATE audit SET actor = 'someone-else', hash = '\(forged)' WHERE seq = 5")
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stderr.contains("rewritten at record 6: record 6 does not follow the record before it"), verify.stderr)
    }

    func testDeletedRecordIsNamed() throws {
        let ws = try history()
        try dropTriggers(ws)
        try ws.execute("DELETE FROM audit WHERE seq = 20")
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stderr.contains("record 21 does not follow the record before it (one was removed or reordered)"),
                      verify.stderr)
    }

    func testDeletedLastApplyIsDetected() throws {
        let ws = try history()
        try dropTriggers(ws)
        // The whole last apply (serial 2) is cut off the end of the log: the chain that is
        // left is intact, but the store is at serial 2 and nothing records how it got there.
        try ws.execute("DELETE FROM audit WHERE serial = 2")
        XCTAssertEqual(try ws.serial(), 2)
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 1, "a history cut short is a rewritten history: " + verify.stdout)
    }

    func testHistoryListsEveryRecordWithSerialTimeActorAndChange() throws {
        let ws = try history()
        let all = ws.run(["history"])
        XCTAssertEqual(all.status, 0, all.stderr)
        let rows = all.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 27)
        XCTAssertEqual(rows.first, "serial 1  2026-11-23T12:00:00Z  tester  create role admin")
        XCTAssertEqual(rows.last, "serial 2  2026-11-23T13:00:00Z  second-engineer  update user dan@partner.example")
        XCTAssertEqual(rows.filter { $0.contains("accept-invitation") },
                       ["serial 1  2026-11-23T12:00:00Z  tester  accept-invitation invitation erin@northwind-media.example"])

        let dan = ws.run(["history", "--user", "DAN@partner.example"]).stdout.split(separator: "\n")
        XCTAssertEqual(dan.map { $0.components(separatedBy: "  ").last ?? "" },
                       ["invite user dan@partner.example", "grant membership dan@partner.example@account:bluebird-tv",
                        "grant membership dan@partner.example@account:northwind-live", "update user dan@partner.example"])
        let json = ws.run(["history", "--format", "json", "--user", "dan@partner.example"])
        let records = try JSONDecoder().decode([AuditRecord].self, from: Data(json.stdout.utf8))
        XCTAssertEqual(records.map(\.serial), [1, 1, 1, 2])
        let change = try JSONDecoder().decode(Change.self, from: Data(records[3].change.utf8))
        XCTAssertEqual(change.after, .user(UserState(email: "dan@partner.example", name: "Daniel Partner", status: .invited)))

        XCTAssertEqual(ws.run(["history", "--since", "2026-11-24"]).stdout, "No history.\n")
        XCTAssertEqual(ws.run(["history", "--since", "2026-11-23"]).stdout.split(separator: "\n").count, 27)
    }
}
