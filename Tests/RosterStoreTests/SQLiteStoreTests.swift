import Foundation
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
}
