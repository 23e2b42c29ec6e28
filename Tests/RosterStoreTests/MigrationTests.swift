import Foundation
import RosterCore
@testable import RosterStore
import XCTest

/// A new store migrates itself, records the migration, and keeps its lineage for life.
final class MigrationTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.path + "/roster-store-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func testNewStoreIsMigratedAndStartsAtSerialZero() throws {
        let store = try SQLiteStore(path: folder + "/nested/state.db", random: SeededRandomSource(seed: 7))
        XCTAssertEqual(try store.appliedMigrations(), ["v1-directory"])
        let snapshot = try store.snapshot()
        XCTAssertEqual(snapshot.store.backend, "sqlite")
        XCTAssertEqual(snapshot.store.serial, 0)
        XCTAssertTrue(snapshot.state.users.isEmpty)
        let lineage = snapshot.store.lineage
        XCTAssertNotNil(UUID(uuidString: lineage), lineage)
        XCTAssertEqual(Array(lineage)[14], "4", "a version-4 UUID")
    }

    func testLineageIsFixedAtCreation() throws {
        let path = folder + "/state.db"
        let first = try SQLiteStore(path: path, random: SeededRandomSource(seed: 1)).snapshot().store.lineage
        let reopened = try SQLiteStore(path: path, random: SeededRandomSource(seed: 2)).snapshot().store.lineage
        XCTAssertEqual(first, reopened)
        let other = try SQLiteStore(path: folder + "/other.db", random: SeededRandomSource(seed: 2)).snapshot().store.lineage
        XCTAssertNotEqual(first, other)
    }

    func testAuditLogIsAppendOnly() throws {
        let store = try SQLiteStore(path: folder + "/state.db")
        try store.queue.write { db in
            try db.execute(sql: """
                INSERT INTO audit (serial, at, actor, action, entity_type, entity_id, change, prev_hash, hash)
                VALUES (1, 't', 'a', 'create', 'role', 'r', '{}', '0', '1')
                """)
        }
        XCTAssertThrowsError(try store.queue.write { db in try db.execute(sql: "UPDATE audit SET actor = 'x'") })
        XCTAssertThrowsError(try store.queue.write { db in try db.execute(sql: "DELETE FROM audit") })
    }
}
