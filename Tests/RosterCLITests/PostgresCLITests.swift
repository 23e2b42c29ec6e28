import Foundation
import RosterCore
import RosterTestSupport
import XCTest

/// `--state postgres://…` end to end: the same plans and applies as on SQLite, a server that
/// goes away mid-apply, and connection mistakes, each exiting 1 with a clear message and
/// nothing half-applied. Needs a server (`ROSTER_TEST_POSTGRES`, set by `scripts/test`).
final class PostgresCLITests: XCTestCase {
    func postgres() throws -> TestStore {
        .postgres(url: try TestStore.postgresServer())
    }

    func testTheSameFilesGiveTheSamePlansAppliesAndMessagesOnBothStores() throws {
        let sqlite = try Workspace(seed: 5, backend: .sqlite)
        let shared = try Workspace(seed: 5, backend: try postgres())
        /// `show` names the store it read: the one line allowed to differ.
        func withoutStore(_ text: String) -> String {
            text.replacingOccurrences(of: #"^Store \S+:"#, with: "Store STORE:", options: .regularExpression)
        }
        func same(_ arguments: [String], _ note: String) {
            let a = sqlite.run(arguments)
            let b = shared.run(arguments)
            XCTAssertEqual(b.status, a.status, "\(note): \(b.stderr)")
            XCTAssertEqual(withoutStore(shared.asIfOnSQLite(b.stdout)), withoutStore(a.stdout), note)
        }
        for format in ["text", "markdown", "json"] { same(["plan", "--format", format], "first plan, \(format)") }
        same(["apply", "--auto-approve"], "first apply")
        XCTAssertEqual(try shared.messages(), try sqlite.messages(), "the same invitations, byte for byte")
        try sqlite.accept(["erin@northwind-media.example"])
        try shared.accept(["erin@northwind-media.example"])
        for ws in [sqlite, shared] {
            try ws.edit(Quickstart.otherUsers, "name: Dan Partner", "name: Daniel Partner")
            try ws.edit(Quickstart.northwind, "  - user: dan@partner.example\n    roles: [system-integrator]\n", "")
        }
        same(["plan", "--format", "json"], "second plan")
        same(["apply", "--auto-approve"], "second apply")
        for arguments in [["history", "--format", "json"], ["invitations", "list", "--format", "json"], ["show"],
                          ["show", "dan@partner.example"], ["audit", "verify"], ["plan", "--format", "json"]] {
            same(arguments, arguments.joined(separator: " "))
        }
    }

    func testNewStoreIsAnnouncedWithThePasswordMasked() throws {
        let ws = try Workspace(backend: try postgres())
        let server = try TestStore.postgresServer()
        let password = try XCTUnwrap(URLComponents(string: server)?.password)
        let first = ws.run(["plan"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.hasPrefix("note: created a new, empty store at postgres://roster:***@127.0.0.1:"), first.stderr)
        XCTAssertFalse(first.stderr.contains(password))
        let second = ws.run(["plan"])
        XCTAssertEqual(second.stderr, "", "announced once")
        let show = ws.run(["show"])
        XCTAssertTrue(show.stdout.hasPrefix("Store postgres://roster:***@127.0.0.1:"), show.stdout)
        XCTAssertFalse(show.stdout.contains(password))
    }

    func testServerEndingTheConnectionMidApplyFailsClearlyAndStoresNothing() throws {
        let (ws, logStart) = try BigApply.plannedWorkspace(backend: try postgres())
        let errors = Pipe()
        let apply = try BigApply.startApply(in: ws, stderr: errors.fileHandleForWriting)
        // What an administrator's pg_terminate_backend, a failover or a restart does to the session:
        // once the open transaction has written 500 KB of log, the server ends it. The check and the
        // kill are one statement, so the transaction cannot commit between them.
        let deadline = Date().addingTimeInterval(60)
        var ended = 0
        while apply.isRunning && ended == 0 && Date() < deadline {
            ended = try ws.int("""
                SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE application_name = 'roster' AND backend_xid IS NOT NULL
                  AND \(BigApply.postgresLogPosition) - \(logStart) >= 500000
                """)
            if ended == 0 { usleep(2_000) }
        }
        XCTAssertEqual(ended, 1, "the apply's transaction ended before the server could end it; make the directory bigger")
        apply.waitUntilExit()
        try errors.fileHandleForWriting.close()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(apply.terminationStatus, 1, stderr)
        XCTAssertTrue(stderr.contains("ended the connection") || stderr.contains("lost the connection"), stderr)
        XCTAssertTrue(stderr.contains("nothing of the open transaction was stored"), stderr)
        XCTAssertEqual(try ws.serial(), 0)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM users") + (try ws.int("SELECT COUNT(*) FROM audit")), 0)
        XCTAssertEqual(ws.run(["audit", "verify"]).status, 0)
        // The server released the dead session's apply lock: the next apply goes through.
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.serial(), 1)
        XCTAssertEqual(Set(try ws.messages().map(\.to)).count, BigApply.users, "every invitation issued once")
    }

    func testConnectionMistakesExitOneWithoutShowingThePassword() throws {
        let ws = try Workspace(backend: try postgres())
        let server = try TestStore.postgresServer()
        var components = try XCTUnwrap(URLComponents(string: server))
        components.password = "wrong-password-123"
        let wrong = ws.run(["plan", "--state", try XCTUnwrap(components.string)])
        XCTAssertEqual(wrong.status, 1, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("refused user 'roster'"), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains("wrong-password-123"), wrong.stderr)

        let usage = ws.run(["plan", "--state", "postgres://roster:wrong-password-123@127.0.0.1/db?sslmode=maybe"])
        XCTAssertEqual(usage.status, 64, usage.stderr)
        XCTAssertTrue(usage.stderr.contains("sslmode=maybe is not supported"), usage.stderr)
        XCTAssertFalse(usage.stderr.contains("wrong-password-123"), usage.stderr)
    }
}
