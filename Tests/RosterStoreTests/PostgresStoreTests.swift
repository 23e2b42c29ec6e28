import Foundation
import RosterCore
@testable import RosterStore
import RosterTestSupport
import XCTest

/// PostgreSQL URLs: every part read, the password never shown, mistakes named.
final class PostgresLocationTests: XCTestCase {
    func testEveryPartOfTheURLIsRead() throws {
        let location = try PostgresLocation(
            url: "postgres://deploy:s3cr%40t@db.internal:6543/directory?sslmode=require&connect_timeout=3&schema=acme",
            environment: ["PGPASSWORD": "ignored"])
        XCTAssertEqual(location, PostgresLocation(host: "db.internal", port: 6543, user: "deploy", password: "s3cr@t",
                                                  database: "directory", tls: .require, connectTimeout: 3, schema: "acme"))
        XCTAssertEqual(location.displayURL, "postgres://deploy:***@db.internal:6543/directory?sslmode=require&schema=acme")
    }

    func testDefaultsAndThePasswordFromPGPASSWORD() throws {
        let location = try PostgresLocation(url: "postgresql://ci@localhost", environment: ["PGPASSWORD": "from-env"])
        XCTAssertEqual(location, PostgresLocation(host: "localhost", port: 5432, user: "ci", password: "from-env",
                                                  database: "ci", tls: .disable, connectTimeout: 10, schema: "roster"))
        XCTAssertEqual(location.displayURL, "postgres://ci:***@localhost:5432/ci")
        let anonymous = try PostgresLocation(url: "postgres://db.internal/directory", environment: ["PGUSER": "ops"])
        XCTAssertEqual([anonymous.user, anonymous.displayURL], ["ops", "postgres://ops@db.internal:5432/directory"])
    }

    func testMistakesAreNamedAndThePasswordIsNeverRepeated() {
        let cases = [
            ("postgres://u:hunter2@/db", "names no host"),
            ("postgres://u:hunter2@h/db?sslmode=allow", "sslmode=allow is not supported; use disable, require or verify-full"),
            ("postgres://u:hunter2@h/db?connect_timeout=0", "connect_timeout=0 is not a number of seconds"),
            ("postgres://u:hunter2@h/db?schema=Bad-Name", "schema=Bad-Name is not a plain lowercase name"),
            ("postgres://u:hunter2@h/db?schema=roster%0A", "is not a plain lowercase name"),
            ("postgres://u:hunter2@h/db?schema=pg_roster", "schema=pg_roster is not a plain lowercase name"),
            ("postgres://u:hunter2@h/db?schema=9lives", "schema=9lives is not a plain lowercase name"),
            ("postgres://u:hunter2@h/db?timeout=3", "unknown parameter 'timeout'"),
            ("postgres://u:hunter2@h:99999/db", "port 99999 is out of range 1-65535"),
            ("postgres://u:hunter2@h:abc/db", "'postgres://u:***@h:abc/db' is not a PostgreSQL URL"),
        ]
        for (url, expected) in cases {
            XCTAssertThrowsError(try PostgresLocation(url: url, environment: [:]), url) { error in
                guard case .badURL? = error as? StoreError else { return XCTFail("\(url): \(error)") }
                XCTAssertTrue("\(error)".contains(expected), "\(url): \(error)")
                XCTAssertFalse("\(error)".contains("hunter2"), "\(url): \(error)")
            }
        }
    }

    func testMaskHidesOnlyThePassword() {
        XCTAssertEqual(PostgresLocation.mask("postgres://u:p@ss@h:1/d"), "postgres://u:***@h:1/d")
        XCTAssertEqual(PostgresLocation.mask("postgres://u@h/d"), "postgres://u@h/d")
        XCTAssertEqual(PostgresLocation.mask("sqlite:.roster/state.db"), "sqlite:.roster/state.db")
    }

    func testPlaceholdersAreNumberedOutsideQuotes() {
        XCTAssertEqual(PostgresStore.numberPlaceholders("SELECT '?' || ? FROM t WHERE a = ? AND b LIKE '%?%'"),
                       "SELECT '?' || $1 FROM t WHERE a = $2 AND b LIKE '%?%'")
    }
}

/// Bad connections fail within a bounded time with a message saying what to do, and never
/// show the password. Needs a server (`ROSTER_TEST_POSTGRES`, set by `scripts/test`).
final class PostgresConnectionTests: XCTestCase {
    /// The server's URL with some parts replaced.
    func url(_ change: (inout URLComponents) -> Void) throws -> String {
        let server = try TestStore.postgresServer()
        var components = try XCTUnwrap(URLComponents(string: server))
        change(&components)
        return try XCTUnwrap(components.string)
    }

    /// Opens a store at `url`, expecting a failure within `seconds`; returns its message.
    func failure(_ url: String, within seconds: TimeInterval = 5, file: StaticString = #filePath, line: UInt = #line) -> String {
        let started = Date()
        var message = ""
        XCTAssertThrowsError(try PostgresStore(location: PostgresLocation(url: url, environment: [:])), file: file, line: line) {
            message = "\($0)"
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), seconds, message, file: file, line: line)
        return message
    }

    func testWrongPasswordIsRefusedAtOnce() throws {
        let message = failure(try url { $0.password = "not-the-password" })
        XCTAssertTrue(message.contains("refused user 'roster'"), message)
        XCTAssertTrue(message.contains("check the user and the password"), message)
        XCTAssertFalse(message.contains("not-the-password"), message)
    }

    func testMissingDatabaseIsNamed() throws {
        let message = failure(try url { $0.path = "/no_such_directory" })
        XCTAssertTrue(message.contains("database 'no_such_directory' does not exist"), message)
    }

    func testClosedPortIsReported() throws {
        let port = TestPorts.free()
        let message = failure(try url { $0.port = port })
        XCTAssertTrue(message.contains("cannot connect to the PostgreSQL server at 127.0.0.1:\(port)"), message)
    }

    func testServerThatNeverAnswersTimesOut() throws {
        // A listening socket that never accepts: the connection hangs until connect_timeout.
        let (listener, port) = TestPorts.boundSocket()
        defer { close(listener) }
        XCTAssertEqual(listen(listener, 1), 0)
        let started = Date()
        let message = failure(try url {
            $0.port = port
            $0.queryItems = [URLQueryItem(name: "connect_timeout", value: "1")]
        })
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.9, "it waited for connect_timeout")
        XCTAssertTrue(message.contains("within 1 s"), message)
    }

    func testSchemaNamedLikeAKeywordIsAStoreToo() throws {
        let store = try PostgresStore(location: PostgresLocation(url: try url {
            $0.queryItems = [URLQueryItem(name: "schema", value: "user")]
        }, environment: [:]))
        defer { _ = try? store.write { db in try db.execute(#"DROP SCHEMA "user" CASCADE"#) } }
        XCTAssertEqual(try store.snapshot().store.serial, 0)
        XCTAssertEqual(try store.appliedMigrations(), ["v1-directory", "v2-delivery", "v3-events", "v4-reading"])
    }

    func testServerThatStopsAnsweringFailsTheStatementInBoundedTime() throws {
        let store = try PostgresStore(location: PostgresLocation(url: try TestStore.postgresServer(), environment: [:]),
                                      answerTimeout: 2)
        let backend = try XCTUnwrap(try store.read { db in try db.integer("SELECT pg_backend_pid()") })
        // The backend process stops, as a frozen or partitioned server does; the socket stays open.
        XCTAssertEqual(kill(pid_t(backend), SIGSTOP), 0, "the tests must be able to signal the server (same user or root)")
        defer { kill(pid_t(backend), SIGCONT) }
        let started = Date()
        XCTAssertThrowsError(try store.snapshot()) { error in
            XCTAssertTrue("\(error)".contains("did not answer within 2 s; nothing of the open transaction was stored"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }

    func testTLSDemandedButNotOffered() throws {
        let message = failure(try url { $0.queryItems = [URLQueryItem(name: "sslmode", value: "require")] })
        XCTAssertTrue(message.contains("does not offer TLS, which sslmode=require demands"), message)
    }
}
