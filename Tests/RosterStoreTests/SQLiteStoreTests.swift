import Foundation
import GRDB
import RosterCore
@testable import RosterStore
import XCTest

/// What only the SQLite store does (the rest is `StoreContractTests`).
final class SQLiteStoreTests: XCTestCase {
    func testNewStoreCreatesItsFolder() throws {
        let folder = FileManager.default.temporaryDirectory.path + "/roster-sqlite-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try SQLiteStore(path: folder + "/nested/state.db", random: SeededRandomSource(seed: 7))
        XCTAssertEqual(try store.appliedMigrations(), ["v1-directory", "v2-delivery", "v3-events", "v4-reading"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/nested/state.db"))
        XCTAssertEqual(store.displayURL, "sqlite:\(folder)/nested/state.db")
    }

    /// A first apply drops the non-unique indexes of the tables it writes and gets the statements
    /// that make them again; unique ones (which check rows as they come) and other tables' stay.
    func testAFirstApplyDropsOnlyTheIndexesItBuildsAfterItsRows() throws {
        let folder = FileManager.default.temporaryDirectory.path + "/roster-sqlite-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try SQLiteStore(path: folder + "/state.db", random: SeededRandomSource(seed: 7))
        let query = "SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name"
        let before = try store.read { db in try db.rows(query) { try $0.text(0) } }
        XCTAssertEqual(try store.write { db in try store.dropIndexes(beforeFirstApplyOf: 999, db) }, [], "a small apply keeps them")
        struct Rollback: Error {}
        var rebuilt: [String] = []
        XCTAssertThrowsError(try store.write { db in
            rebuilt = try store.dropIndexes(beforeFirstApplyOf: 1000, db)
            let left = try db.rows(query) { try $0.text(0) }
            XCTAssertEqual(Set(before).subtracting(left), ["accounts_customer", "accounts_owner", "audit_serial", "audit_user",
                                                           "customers_owner", "invitations_user", "memberships_scope",
                                                           "memberships_user", "outbox_due"])
            XCTAssertTrue(left.contains("memberships_active"), "a unique index stays")
            throw Rollback()
        })
        XCTAssertEqual(try store.read { db in try db.rows(query) { try $0.text(0) } }, before, "a rollback brings them back")
        XCTAssertEqual(rebuilt.count, 9)
        XCTAssertTrue(rebuilt.contains("CREATE INDEX memberships_user ON memberships (user_id) WHERE ended_at IS NULL"),
                      rebuilt.joined(separator: "\n"))
    }

    /// The snapshot finds each row's user by id however the ids run: from 1, with gaps, and
    /// far past the number of users (a store edited by hand, or rows imported with their ids).
    func testSnapshotFindsUsersByIdsWithGaps() throws {
        let folder = FileManager.default.temporaryDirectory.path + "/roster-sqlite-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try SQLiteStore(path: folder + "/state.db", random: SeededRandomSource(seed: 7))
        let ids: [Int64] = [2, 1, 3000, 9_000_000_000, 4]
        try store.write { db in
            for (n, id) in ids.enumerated() {
                try db.execute("""
                    INSERT INTO users (id, email_key, email, status, created_at, updated_at)
                    VALUES (?, ?, ?, 'active', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')
                    """, [id, "u\(n)@example.com", "u\(n)@example.com"])
                try db.execute("""
                    INSERT INTO customers (id, owner_id, active, created_at, updated_at)
                    VALUES (?, ?, 1, '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')
                    """, ["c\(n)", id])
            }
        }
        let customers = try store.snapshot().state.customers
        XCTAssertEqual(customers.keys.sorted().map { "\($0) \(customers[$0]!.owner)" },
                       (0..<ids.count).map { "c\($0) u\($0)@example.com" })
    }
}

/// A new store's file has 16 KiB pages; a store made with SQLite's default 4 KiB keeps them
/// (SQLite changes a page size only by `VACUUM`) and is read and written as before.
final class SQLitePageSizeTests: XCTestCase {
    func testNewStoresHaveLargerPagesAndOlderOnesKeepTheirs() throws {
        let folder = FileManager.default.temporaryDirectory.path + "/roster-pages-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func pageSize(_ store: SQLiteStore) throws -> Int64? {
            try store.read { db in try db.integer("PRAGMA page_size") }
        }
        let new = try SQLiteStore(path: folder + "/new.db", random: SeededRandomSource(seed: 1))
        XCTAssertEqual(try pageSize(new), Int64(SQLiteStore.pageSize))
        XCTAssertEqual(SQLiteStore.pageSize, 16384)

        let oldPath = folder + "/old.db"
        let made = try DatabaseQueue(path: oldPath)
        try made.write { db in try db.execute(sql: "PRAGMA page_size = 4096; CREATE TABLE t (x)") }
        try made.close()
        let old = try SQLiteStore(path: oldPath, random: SeededRandomSource(seed: 2))
        XCTAssertEqual(try pageSize(old), 4096)
        XCTAssertEqual(try old.snapshot().store.serial, 0, "migrated and readable")
    }
}

/// Multi-row statements bind their values through SQLite's C API (`SQLiteSession.bindAndRun`):
/// every kind of value must read back as it went in, and errors must read like GRDB's.
final class SQLiteBulkBindingTests: XCTestCase {
    private func scratchStore() throws -> (SQLiteStore, String) {
        let folder = FileManager.default.temporaryDirectory.path + "/roster-bulk-" + UUID().uuidString
        let store = try SQLiteStore(path: folder + "/state.db", random: SeededRandomSource(seed: 3))
        try store.write { db in
            try db.execute("CREATE TABLE probe (i INTEGER, t TEXT NOT NULL, r REAL, b BLOB, o TEXT)", [])
        }
        return (store, folder)
    }

    func testBulkInsertKeepsEveryKindOfValue() throws {
        let (store, folder) = try scratchStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let texts = ["", "plain", "Zoë 🚀 «quoted»", String(repeating: "x", count: 5000)]
        let blobs: [[UInt8]] = [[], [0], [0xFF, 0x00, 0x7F], Array(repeating: 0xAB, count: 3000)]
        let rows: [SQLArguments] = (0..<300).map { n in
            [n % 7 == 0 ? Int64.max - Int64(n) : Int64(-n), texts[n % texts.count], Double(n) / 8,
             blobs[n % blobs.count], n % 3 == 0 ? nil : "o\(n)"]
        }
        XCTAssertGreaterThan(rows.count * 5, SQLiteSession.directBindingFrom, "the statement must take the direct path")
        try store.write { db in try db.insert(into: "probe", columns: ["i", "t", "r", "b", "o"], rows: rows) }

        var read: [[String]] = []
        try store.read { db in
            try db.forEachRow("SELECT i, t, r, b, o, typeof(t), typeof(b), typeof(o) FROM probe ORDER BY rowid", []) { row in
                read.append([String(try row.integer(0)), try row.text(1), String(try row.real(2)),
                             try row.blob(3).map { String($0) }.joined(separator: ","), try row.optionalText(4) ?? "NULL",
                             try row.text(5), try row.text(6), try row.text(7)])
            }
        }
        XCTAssertEqual(read.count, rows.count)
        for (n, row) in read.enumerated() {
            let expected = [String(n % 7 == 0 ? Int64.max - Int64(n) : Int64(-n)), texts[n % texts.count], String(Double(n) / 8),
                            blobs[n % blobs.count].map { String($0) }.joined(separator: ","), n % 3 == 0 ? "NULL" : "o\(n)",
                            "text", "blob", n % 3 == 0 ? "null" : "text"]
            XCTAssertEqual(row, expected, "row \(n)")
        }
    }

    /// A statement keeps its bindings between runs (`bindAndRun` does not clear them): the next
    /// run must still read every value anew, a shorter text, an empty blob or a NULL in place of
    /// a long value included.
    func testRerunStatementBindsEveryValueAnew() throws {
        let (store, folder) = try scratchStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func rows(_ run: Int) -> [SQLArguments] {
            (0..<64).map { n -> SQLArguments in
                if run == 0 {
                    return [Int64(n), String(repeating: "long", count: 300), 1.5, [UInt8](repeating: 7, count: 900), "kept"]
                }
                let text = n % 2 == 0 ? "" : "s\(n)"
                let blob: [UInt8] = n % 2 == 0 ? [] : [UInt8(n)]
                return [Int64(1000 + n), text, nil, blob, nil]
            }
        }
        XCTAssertGreaterThan(64 * 5, SQLiteSession.directBindingFrom, "the statement must take the direct path")
        for run in 0..<2 {
            try store.write { db in try db.insert(into: "probe", columns: ["i", "t", "r", "b", "o"], rows: rows(run)) }
        }
        var read: [String] = []
        try store.read { db in
            try db.forEachRow("SELECT i, t, r IS NULL, hex(b), o IS NULL FROM probe WHERE i >= 1000 ORDER BY i", []) { row in
                read.append("\(try row.integer(0)) \(try row.text(1)) \(try row.bool(2)) \(try row.text(3)) \(try row.bool(4))")
            }
        }
        XCTAssertEqual(read, (0..<64).map { n in
            "\(1000 + n) \(n % 2 == 0 ? "" : "s\(n)") true \(n % 2 == 0 ? "" : String(format: "%02X", n)) true"
        })
    }

    func testBulkInsertErrorsNameTheConstraintAndLeaveTheStatementReusable() throws {
        let (store, folder) = try scratchStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func rows(nullAt bad: Int?) -> [SQLArguments] {
            (0..<40).map { n in [Int64(n), n == bad ? nil : "t\(n)", 0.5, [UInt8(n)], "o"] }
        }
        XCTAssertThrowsError(try store.write { db in
            try db.insert(into: "probe", columns: ["i", "t", "r", "b", "o"], rows: rows(nullAt: 17))
        }) { error in
            XCTAssertTrue("\(error)".contains("NOT NULL constraint failed: probe.t"), "\(error)")
        }
        // The failed transaction wrote nothing; the same cached statement works again.
        try store.write { db in try db.insert(into: "probe", columns: ["i", "t", "r", "b", "o"], rows: rows(nullAt: nil)) }
        let count = try store.read { db in try db.integer("SELECT COUNT(*) FROM probe", []) }
        XCTAssertEqual(count, 40)
    }
}

/// A transaction of many rows commits without copying the WAL into the file; a thread of its
/// own does that afterwards (`SQLiteCheckpointer`), and the writer checkpoints at commit again
/// after it, whether that transaction committed or failed.
final class SQLiteCheckpointTests: XCTestCase {
    private func scratchStore() throws -> (SQLiteStore, String) {
        let folder = FileManager.default.temporaryDirectory.path + "/roster-checkpoint-" + UUID().uuidString
        let store = try SQLiteStore(path: folder + "/state.db", random: SeededRandomSource(seed: 5))
        try store.write { db in
            try db.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY, t TEXT NOT NULL)", [])
            // Checked only at commit: a transaction whose commit fails.
            try db.execute("CREATE TABLE orphan (n INTEGER PRIMARY KEY, t TEXT NOT NULL, "
                + "p INTEGER REFERENCES probe(n) DEFERRABLE INITIALLY DEFERRED)", [])
        }
        return (store, folder)
    }

    /// Writes `count` rows from `first` into `table` in one transaction, in statements of 500
    /// rows; `orphan` rows name a probe row that does not exist.
    private func insert(_ count: Int, from first: Int, into store: SQLiteStore, table: String = "probe") throws {
        try store.write { db in
            for start in stride(from: first, to: first + count, by: 500) {
                let numbers = start..<min(first + count, start + 500)
                if table == "orphan" {
                    let rows: [SQLArguments] = numbers.map { [Int64($0), "row \($0)", Int64(-1)] }
                    let marks = Array(repeating: "(?, ?, ?)", count: rows.count).joined(separator: ", ")
                    try db.execute("INSERT INTO orphan (n, t, p) VALUES \(marks)", Array(rows.joined()))
                } else {
                    let rows: [SQLArguments] = numbers.map { [Int64($0), "row \($0)"] }
                    let marks = Array(repeating: "(?, ?)", count: rows.count).joined(separator: ", ")
                    try db.execute("INSERT INTO probe (n, t) VALUES \(marks)", Array(rows.joined()))
                }
            }
        }
    }

    /// The rows in the database file alone: a copy without its WAL.
    private func rowsInTheFile(_ folder: String) throws -> Int {
        let copy = folder + "/copy.db"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: folder + "/state.db", toPath: copy)
        let queue = try DatabaseQueue(path: copy)
        defer { try? queue.close() }
        return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM probe") ?? 0 }
    }

    private func autocheckpoint(_ store: SQLiteStore) throws -> Int64? {
        try store.write { db in try db.integer("PRAGMA wal_autocheckpoint") }
    }

    func testALargeTransactionIsCopiedIntoTheFileAfterItsCommit() throws {
        let (store, folder) = try scratchStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try insert(Int(SQLiteStore.largeTransaction), from: 0, into: store)
        store.checkpointer.wait()
        XCTAssertEqual(try rowsInTheFile(folder), Int(SQLiteStore.largeTransaction), "the checkpoint ran")
        XCTAssertEqual(try autocheckpoint(store), Int64(SQLiteStore.autocheckpointPages))

        XCTAssertThrowsError(try insert(Int(SQLiteStore.largeTransaction), from: 0, into: store, table: "orphan")) { error in
            XCTAssertTrue("\(error)".contains("FOREIGN KEY"), "\(error)")
        }
        XCTAssertEqual(try autocheckpoint(store), Int64(SQLiteStore.autocheckpointPages), "restored after a failed commit")
        XCTAssertEqual(try store.read { db in try db.integer("SELECT COUNT(*) FROM orphan") }, 0)
    }

    func testASmallTransactionIsCheckpointedByItsCommit() throws {
        let (store, folder) = try scratchStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // More WAL pages than SQLite's threshold, in fewer rows than a large transaction.
        try store.write { db in
            try db.execute("INSERT INTO probe (n, t) VALUES (1, ?)", [String(repeating: "x", count: 20_000_000)])
        }
        XCTAssertEqual(try rowsInTheFile(folder), 1, "checkpointed before the commit returned")
    }
}
