import Foundation
import RosterCore
import RosterTestSupport
import XCTest

/// A large apply run as a real `roster` process, for killing at chosen moments.
enum BigApply {
    static let users = 800

    static let emails = (0..<users).map { String(format: "u%05d@crash.example", $0) }

    /// A directory of 800 users in 80 accounts of one customer: an apply of 1,682 changes.
    static func workspace(backend: TestStore = .current) throws -> Workspace {
        try Workspace(files: [
            "roster.yaml": "version: 1\nsources: [directory]\npermissions:\n  streams: [read]\nlimits:\n  accountsPerCustomer: 1000\n",
            "directory/users.yaml": emails.map { "kind: User\nemail: \($0)\n" }.joined(separator: "---\n"),
            "directory/accounts.yaml": accounts(),
        ], backend: backend)
    }

    /// The role, the customer and its 80 accounts, each with `members` of the users, the next
    /// account's starting 10 users on (10: each user in one account).
    static func accounts(members: Int = 10) -> String {
        var text = "kind: Role\nid: viewer\npermissions: {streams: [read]}\n---\nkind: Customer\nid: crash\nowner: \(emails[0])\n"
        for account in 0..<(users / 10) {
            text += "---\nkind: Account\nid: acc-\(account)\ncustomer: crash\nmembers:" + (members == 0 ? " []\n" : "\n")
            for member in 0..<members { text += "  - user: \(emails[(account * 10 + member) % users])\n    roles: [viewer]\n" }
        }
        return text
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
    static func killApply(in ws: Workspace, arguments: [String]? = nil, until: () -> Bool) throws -> Bool {
        let process = try arguments.map { try startApply(in: ws, arguments: $0) } ?? startApply(in: ws)
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && !until() && Date() < deadline { usleep(2_000) }
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return killed
    }

    /// PostgreSQL's WAL position in bytes, as SQL (for statements that compare with `logPosition`).
    static let postgresLogPosition = "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"

    /// How far the store's write-ahead log reaches, in bytes: the size of SQLite's `-wal` file, or
    /// PostgreSQL's WAL position. Both move while a transaction writes, before it commits.
    static func logPosition(_ ws: Workspace) -> Int {
        if ws.isPostgres {
            return (try? ws.int("SELECT \(postgresLogPosition)::bigint")) ?? 0
        }
        return (try? FileManager.default.attributesOfItem(atPath: ws.statePath + "-wal"))?[.size] as? Int ?? 0
    }

    /// A big workspace whose store exists (made by a plan), and its log position before any apply.
    static func plannedWorkspace(backend: TestStore = .current) throws -> (Workspace, logStart: Int) {
        let ws = try workspace(backend: backend)
        let plan = ws.run(["plan"])
        guard plan.status == 0 else { throw WorkspaceError(description: "plan exited \(plan.status): \(plan.stderr)") }
        return (ws, logPosition(ws))
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
        try assertIndexesWhole(ws, file: file, line: line)
        if serial == 0 {
            let apply = ws.run(["apply", "--auto-approve"])
            XCTAssertEqual(apply.status, 0, "the killed apply left no lock behind: " + apply.stderr, file: file, line: line)
        } else {
            let deliver = ws.run(["deliver"])
            XCTAssertEqual(deliver.status, 0, deliver.stderr, file: file, line: line)
        }
        XCTAssertEqual(try ws.serial(), 1, file: file, line: line)
        XCTAssertEqual(lines(try ws.plan()), [], file: file, line: line)
        XCTAssertEqual(try ws.store().pendingMessages(dueBy: nil, after: nil, limit: 1_000_000).count, 0, file: file, line: line)
        XCTAssertEqual(Set(try ws.messages().map(\.to)).count, BigApply.users, "every invitation delivered, none lost",
                       file: file, line: line)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), BigApply.users, "none issued twice",
                       file: file, line: line)
        try assertIndexesWhole(ws, file: file, line: line)
    }

    /// A first apply of this size builds its SQLite indexes after its rows (`dropIndexes`): killed
    /// or not, the store has every index of a new store, each matching its table's rows.
    func assertIndexesWhole(_ ws: Workspace, file: StaticString = #filePath, line: UInt = #line) throws {
        guard !ws.isPostgres else { return }
        let indexes = "SELECT name || ': ' || COALESCE(sql, '') FROM sqlite_schema WHERE type = 'index' ORDER BY name"
        let fresh = try Workspace(files: ["roster.yaml": "version: 1\nsources: []\n"])
        _ = fresh.run(["plan"])
        XCTAssertGreaterThanOrEqual(try fresh.strings(indexes).count, 20, file: file, line: line)
        XCTAssertEqual(try ws.strings(indexes), try fresh.strings(indexes), file: file, line: line)
        XCTAssertEqual(try ws.strings("PRAGMA integrity_check"), ["ok"], file: file, line: line)
    }

    /// Kills the apply once its transaction has written `bytes` to the store's log (it writes
    /// about 3.8 MB in all, then commits).
    func assertKilledWhileWriting(after bytes: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let (ws, logStart) = try BigApply.plannedWorkspace()
        let killed = try BigApply.killApply(in: ws) { BigApply.logPosition(ws) - logStart > bytes }
        XCTAssertTrue(killed, "the apply committed before writing \(bytes) bytes; make the directory bigger",
                      file: file, line: line)
        try assertRecovers(ws, file: file, line: line)
    }

    func testApplyKilledEarlyInItsTransactionLeavesTheOldOrTheNewSerial() throws {
        try assertKilledWhileWriting(after: 100_000)
    }

    func testApplyKilledMidwayThroughItsTransactionLeavesTheOldOrTheNewSerial() throws {
        try assertKilledWhileWriting(after: 1_000_000)
    }

    func testApplyKilledLateInItsTransactionLeavesTheOldOrTheNewSerial() throws {
        try assertKilledWhileWriting(after: 1_800_000)
    }

    /// A second apply that ends 8,000 memberships (`UPDATE … FROM (VALUES …)`, 500 to a statement),
    /// killed once its transaction has written 1 MB to the log: the store is at the old serial or
    /// the new one, never between, and the next apply finishes the job.
    func testApplyKilledWhileEndingMembershipsLeavesTheOldOrTheNewSerial() throws {
        let ws = try BigApply.workspace()
        try ws.write("directory/accounts.yaml", BigApply.accounts(members: 100))  // 8,000 memberships
        let first = ws.run(["apply", "--auto-approve"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL"), 8000)
        let audited = try ws.int("SELECT COUNT(*) FROM audit")
        try ws.write("directory/accounts.yaml", BigApply.accounts(members: 0))
        let logStart = BigApply.logPosition(ws)
        let arguments = ["apply", "--auto-approve", "--allow", "mass-removal", "--actor", "crash-test"]
        let killed = try BigApply.killApply(in: ws, arguments: arguments) { BigApply.logPosition(ws) - logStart > 1_000_000 }
        XCTAssertTrue(killed, "the apply committed before writing 1 MB; end more memberships")
        let serial = try ws.serial()
        XCTAssertTrue([1, 2].contains(serial), "serial \(serial)")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL"), serial == 1 ? 8000 : 0)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), audited + (serial == 1 ? 0 : 8000))
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        let again = ws.run(arguments)
        XCTAssertEqual(again.status, 0, "the killed apply left no lock behind: " + again.stderr)
        XCTAssertEqual(try ws.serial(), 2)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL"), 0)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM memberships WHERE end_reason IS NOT NULL"), 8000)
        XCTAssertEqual(lines(try ws.plan()), [])
        try assertIndexesWhole(ws)
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

    func testApplyKilledWhileItLoadsAndPlansLeavesTheStoreUntouched() throws {
        let ws = try BigApply.workspace()
        let start = Date()
        let killed = try BigApply.killApply(in: ws) { Date().timeIntervalSince(start) > 0.05 }
        XCTAssertTrue(killed)
        try assertRecovers(ws)
    }

    func testApplyKilledAtRandomMomentsLeavesAConsistentStore() throws {
        for delay in [0.4, 1.0] {
            let ws = try BigApply.workspace()
            let start = Date()
            _ = try BigApply.killApply(in: ws) { Date().timeIntervalSince(start) > delay }
            try assertRecovers(ws)
        }
    }
}
