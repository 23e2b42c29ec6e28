import Foundation
import RosterCore
import RosterTestSupport
import XCTest

/// A large apply run as a real `roster` process, for killing at chosen moments.
enum BigApply {
    static let users = 800

    /// A directory of 800 users in 80 accounts of one customer: an apply of 1,682 changes.
    static func workspace(backend: TestStore = .current) throws -> Workspace {
        let emails = (0..<Self.users).map { String(format: "u%05d@crash.example", $0) }
        var accounts = "kind: Role\nid: viewer\npermissions: {streams: [read]}\n---\nkind: Customer\nid: crash\nowner: \(emails[0])\n"
        for account in 0..<(Self.users / 10) {
            accounts += "---\nkind: Account\nid: acc-\(account)\ncustomer: crash\nmembers:\n"
            for member in 0..<10 { accounts += "  - user: \(emails[account * 10 + member])\n    roles: [viewer]\n" }
        }
        return try Workspace(files: [
            "roster.yaml": "version: 1\nsources: [directory]\npermissions:\n  streams: [read]\nlimits:\n  accountsPerCustomer: 1000\n",
            "directory/users.yaml": emails.map { "kind: User\nemail: \($0)\n" }.joined(separator: "---\n"),
            "directory/accounts.yaml": accounts,
        ], backend: backend)
    }

    /// The `roster` executable built beside the test bundle.
    static func rosterExecutable() throws -> String {
        let path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/roster"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw WorkspaceError(description: "no roster executable at \(path); build the package first")
        }
        return path
    }

    /// `roster ARGUMENTS` (by default an apply) in `ws` as a real process, started; its output goes
    /// to `stdout` and `stderr`.
    static func startApply(in ws: Workspace, arguments: [String] = ["apply", "--auto-approve", "--actor", "crash-test"],
                           stdout: FileHandle = .nullDevice, stderr: FileHandle = .nullDevice) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try rosterExecutable())
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: ws.root)
        process.environment = ws.variables().merging(["PATH": "/usr/bin:/bin", "NO_COLOR": "1"]) { $1 }
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        return process
    }

    /// Starts `roster apply --auto-approve` in `ws`, kills it once `until` holds (or after 60 s), and
    /// returns whether it was killed before it finished.
    static func killApply(in ws: Workspace, until: () -> Bool) throws -> Bool {
        let process = try startApply(in: ws)
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && !until() && Date() < deadline { usleep(2_000) }
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return killed
    }

    /// Whether an apply is well into writing its transaction: SQLite's write-ahead log has grown
    /// past 1 MB, or a roster connection to PostgreSQL has held a write transaction for 0.3 s.
    static func isWriting(_ ws: Workspace) -> Bool {
        guard ws.isPostgres else {
            let wal = (try? FileManager.default.attributesOfItem(atPath: ws.statePath + "-wal"))?[.size] as? Int
            return (wal ?? 0) > 1_000_000
        }
        let writers = try? ws.int("""
            SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'roster' AND backend_xid IS NOT NULL
                AND now() - xact_start > interval '300 milliseconds'
            """)
        return (writers ?? 0) > 0
    }
}

/// SPEC §5.5–5.6 and §10 "Nothing lost": an apply killed at any instant leaves the store at the
/// old serial or the new one, with an intact audit log, its lock free, and every invitation
/// still delivered by `roster deliver`. The apply runs as a real `roster` process, killed with SIGKILL.
final class ReconcilerCrashTests: XCTestCase {
    /// The store is at the old serial or the new one, never between, and can carry on.
    func assertRecovers(_ ws: Workspace, file: StaticString = #filePath, line: UInt = #line) throws {
        let serial = try ws.serial()
        let changes = 1 + BigApply.users + 1 + BigApply.users / 10 + BigApply.users
        XCTAssertTrue([0, 1].contains(serial), "serial \(serial)", file: file, line: line)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM users"), serial == 0 ? 0 : BigApply.users, file: file, line: line)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), serial == 0 ? 0 : changes, file: file, line: line)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox"), serial == 0 ? 0 : BigApply.users, file: file, line: line)
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, verify.stderr, file: file, line: line)
        if serial == 0 {
            let apply = ws.run(["apply", "--auto-approve"])
            XCTAssertEqual(apply.status, 0, "the killed apply left no lock behind: " + apply.stderr, file: file, line: line)
        } else {
            let deliver = ws.run(["deliver"])
            XCTAssertEqual(deliver.status, 0, deliver.stderr, file: file, line: line)
        }
        XCTAssertEqual(try ws.serial(), 1, file: file, line: line)
        XCTAssertEqual(lines(try ws.plan()), [], file: file, line: line)
        XCTAssertEqual(try ws.store().undeliveredMessages().count, 0, file: file, line: line)
        XCTAssertEqual(Set(try ws.messages().map(\.to)).count, BigApply.users, "every invitation delivered, none lost",
                       file: file, line: line)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), BigApply.users, "none issued twice",
                       file: file, line: line)
    }

    func testApplyKilledWhileWritingLeavesTheOldOrTheNewSerial() throws {
        let ws = try BigApply.workspace()
        let killed = try BigApply.killApply(in: ws) { BigApply.isWriting(ws) }
        XCTAssertTrue(killed, "the apply finished before it could be killed; make the directory bigger")
        try assertRecovers(ws)
    }

    func testApplyKilledWhileDeliveringLosesNoInvitation() throws {
        let ws = try BigApply.workspace()
        let outbox = ws.outboxPath
        let killed = try BigApply.killApply(in: ws) {
            ((try? FileManager.default.contentsOfDirectory(atPath: outbox))?.count ?? 0) >= 20
        }
        XCTAssertTrue(killed, "the apply finished before it could be killed; make the directory bigger")
        XCTAssertEqual(try ws.serial(), 1, "delivery starts after the commit")
        XCTAssertLessThan(try ws.messages().count, BigApply.users)
        try assertRecovers(ws)
    }

    func testApplyKilledAtAnyMomentLeavesAConsistentStore() throws {
        for delay in [0.1, 0.4, 1.0] {
            let ws = try BigApply.workspace()
            let start = Date()
            _ = try BigApply.killApply(in: ws) { Date().timeIntervalSince(start) > delay }
            try assertRecovers(ws)
        }
    }
}
