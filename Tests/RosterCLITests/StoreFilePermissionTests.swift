import Foundation
import RosterCore
import RosterStore
import XCTest

/// Secrets at rest (issue 14): the SQLite store holds undelivered tokens and the `file`
/// outbox holds live ones, so both are their owner's alone whatever the umask, and an
/// existing store others can read is named with the fix. SQLite only: it is about files.
final class StoreFilePermissionTests: XCTestCase {
    private var savedUmask: mode_t = 0

    override func setUp() {
        super.setUp()
        // The usual umask, under which files are created 0644 and folders 0755.
        savedUmask = umask(0o022)
    }

    override func tearDown() {
        umask(savedUmask)
        super.tearDown()
    }

    func mode(_ path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return -1 }
        return Int(info.st_mode) & 0o777
    }

    func testANewStoreItsSideFilesAndTheOutboxAreTheOwnersAlone() throws {
        let ws = try Workspace(backend: .sqlite)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root + "/.roster"))
        try ws.apply()
        // An open handle keeps the write-ahead log and its index in place while they are looked at.
        let store = try ws.store()
        _ = try store.read { db in try db.integer("SELECT COUNT(*) FROM users") }
        let folder = ws.root + "/.roster"
        XCTAssertEqual(String(mode(folder), radix: 8), "700", ".roster/")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        for side in ["state.db", "state.db-wal", "state.db-shm", "state.db.lock"] {
            XCTAssertTrue(names.contains(side), "\(side) in \(names)")
        }
        for name in names where name != "outbox" {
            XCTAssertEqual(String(mode(folder + "/" + name), radix: 8), "600", name)
        }
        XCTAssertEqual(String(mode(ws.outboxPath), radix: 8), "700", "the outbox folder")
        let messages = try FileManager.default.contentsOfDirectory(atPath: ws.outboxPath)
        XCTAssertEqual(messages.count, 6)
        for name in messages {
            XCTAssertTrue(name.hasSuffix(".eml"), name)
            XCTAssertEqual(String(mode(ws.outboxPath + "/" + name), radix: 8), "600", name)
        }
        // A later run keeps them so, the rewritten message files included.
        XCTAssertEqual(ws.run(["invitations", "resend", "dan@partner.example"]).status, 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: ws.outboxPath) {
            XCTAssertEqual(String(mode(ws.outboxPath + "/" + name), radix: 8), "600", name)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name != "outbox" {
            XCTAssertEqual(String(mode(folder + "/" + name), radix: 8), "600", name)
        }
    }

    func testAnOutboxFolderOfItsOwnIsCreatedForTheOwnerAlone() throws {
        let ws = try Workspace(backend: .sqlite)
        try ws.edit("roster.yaml", "path: .roster/outbox", "path: mail/outbox")
        try ws.apply()
        let outbox = ws.root + "/mail/outbox"
        XCTAssertEqual(String(mode(outbox), radix: 8), "700")
        let names = try FileManager.default.contentsOfDirectory(atPath: outbox)
        XCTAssertEqual(names.count, 6)
        for name in names { XCTAssertEqual(String(mode(outbox + "/" + name), radix: 8), "600", name) }
    }

    func testAStoreOthersCanReadIsNamedWithTheFix() throws {
        let ws = try Workspace(backend: .sqlite)
        try ws.apply()
        XCTAssertEqual(chmod(ws.statePath, 0o644), 0)
        let warning = "warning: the store sqlite:\(ws.statePath) can be read by other users of this machine, and "
            + "undelivered invitations hold tokens; run: chmod 600 \(ws.statePath)*\n"
        for command in [["plan"], ["apply", "--auto-approve"], ["show"], ["outbox"]] {
            let result = ws.run(command)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stderr.components(separatedBy: warning).count - 1, 1, "\(command): \(result.stderr)")
        }
        XCTAssertEqual(chmod(ws.statePath, 0o600), 0)
        XCTAssertFalse(ws.run(["plan"]).stderr.contains("can be read by other users"))
    }
}
