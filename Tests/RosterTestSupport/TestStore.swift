import Foundation
import RosterCore
import RosterStore
import XCTest

/// The store the reconciler tests run against. One suite, two runs (`scripts/test` does both):
///
/// - `ROSTER_TEST_STORE` unset or `sqlite`: each workspace's own `.roster/state.db`;
/// - `ROSTER_TEST_STORE=postgres`: a fresh schema per workspace in the database named by
///   `ROSTER_TEST_POSTGRES` (`scripts/with-postgres` starts a throwaway server and sets it).
public enum TestStore: Sendable {
    case sqlite
    case postgres(url: String)

    public static let current: TestStore = {
        let variables = ProcessInfo.processInfo.environment
        guard variables["ROSTER_TEST_STORE"] == "postgres" else { return .sqlite }
        guard let url = variables["ROSTER_TEST_POSTGRES"], !url.isEmpty else {
            fatalError("ROSTER_TEST_STORE=postgres needs ROSTER_TEST_POSTGRES=postgres://…; run scripts/test, which starts a server")
        }
        return .postgres(url: url)
    }()

    /// The server for PostgreSQL-only tests. Without one the test is skipped, saying why; in CI
    /// (`CI` set) a missing server is a failure, never a skip.
    public static func postgresServer(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let variables = ProcessInfo.processInfo.environment
        if let url = variables["ROSTER_TEST_POSTGRES"], !url.isEmpty { return url }
        if variables["CI"] != nil {
            XCTFail("CI must run the PostgreSQL tests: set ROSTER_TEST_POSTGRES (scripts/test does)", file: file, line: line)
        }
        throw XCTSkip("no PostgreSQL server: ROSTER_TEST_POSTGRES is not set (scripts/test starts one)")
    }

    /// `url` with `schema=NAME` added to its parameters.
    public static func url(_ url: String, schema: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "schema=" + schema
    }

    /// A new schema name, unique to this run.
    public static func freshSchema() -> String {
        "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    }

    /// Opens the PostgreSQL store at `url` as a second process would; `seed` makes a new store's lineage.
    public static func openPostgres(_ url: String, seed: UInt64 = 999) throws -> PostgresStore {
        try PostgresStore(location: PostgresLocation(url: url, environment: [:]), random: SeededRandomSource(seed: seed))
    }

    /// Drops a test's schema and everything in it.
    public static func dropSchema(_ url: String, schema: String) {
        guard let store = try? openPostgres(self.url(url, schema: schema)) else { return }
        _ = try? store.write { db in try db.execute("DROP SCHEMA \(schema) CASCADE") }
    }
}

/// The stores of one test, on the store under test: SQLite files in a temporary folder, or
/// schemas on the PostgreSQL server. `removeAll()` deletes them.
public final class TestStores: Sendable {
    public let folder = FileManager.default.temporaryDirectory.path + "/roster-store-" + UUID().uuidString
    private let prefix = TestStore.freshSchema()

    public init() {}

    /// The backend under test: `sqlite` or `postgres`.
    public var backend: String {
        if case .postgres = TestStore.current { return "postgres" }
        return "sqlite"
    }

    /// Opens (creating) the store called `name`, as a new process would.
    public func open(_ name: String = "state", seed: UInt64 = 1) throws -> any SQLStore {
        try opener(name, seed: seed)()
    }

    /// Opens the store called `name` when called; safe to call from any thread.
    public func opener(_ name: String = "state", seed: UInt64 = 1) -> @Sendable () throws -> any SQLStore {
        let path = folder + "/" + name + ".db"
        let schema = prefix + "_" + name
        return {
            switch TestStore.current {
            case .sqlite:
                return try SQLiteStore(path: path, random: SeededRandomSource(seed: seed))
            case .postgres(let url):
                return try TestStore.openPostgres(TestStore.url(url, schema: schema), seed: seed)
            }
        }
    }

    public func removeAll() {
        try? FileManager.default.removeItem(atPath: folder)
        guard case .postgres(let url) = TestStore.current,
              let store = try? TestStore.openPostgres(TestStore.url(url, schema: prefix + "_cleanup"))
        else { return }
        _ = try? store.write { db in
            let schemas = try db.rows("SELECT nspname FROM pg_namespace WHERE nspname LIKE ?", [prefix + "\\_%"]) { try $0.text(0) }
            for schema in schemas { try db.execute("DROP SCHEMA \(schema) CASCADE") }
        }
    }
}
