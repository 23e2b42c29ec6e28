import Foundation
import PostgresNIO
import RosterCore

/// The shared store: roster's tables in one schema (default `roster`) of a PostgreSQL database,
/// reached over one connection (postgres-nio), created and migrated on first use.
///
/// The same SQL as the SQLite store reads and writes it (`SQLStore`), so plans, applies,
/// invitations and the audit log mean the same on both. What differs:
/// - **Apply lock:** a session-level advisory lock, held from before the plan is made until
///   after its transaction commits, and released by the server if the process dies. The
///   holder's host, pid, actor and time sit in `apply_lock_holders`, keyed by the backend
///   holding the lock, so whoever waits can name it.
/// - **Writers:** every write transaction first takes a transaction-level advisory lock, so
///   applies, accepted invitations and deliveries never interleave and the serial and the
///   audit chain advance one writer at a time.
/// - **Reads** run in one `REPEATABLE READ` transaction: the bulk queries of a plan see one state.
/// - **Connecting** is bounded by `connect_timeout` (default 10 s): a wrong host, password or
///   database fails with a clear message instead of retrying.
/// - **A server that stops answering** fails a statement after `answerTimeout` (default 120 s);
///   the server in turn drops a client that vanished (TCP keepalives, 60 s) or that sits idle in
///   a transaction (60 s), which frees its locks.
public final class PostgresStore: SQLStore {
    public let backend = "postgres"
    public let location: PostgresLocation
    public var displayURL: String { location.displayURL }

    /// Whether opening the store created its tables (a new, empty store).
    public private(set) var isNew = false

    private let connection: PostgresConnection
    /// False for a connection leased from `PostgresPool`: the pool closes it, not this store.
    private let ownsConnection: Bool
    private let logger: Logger
    private let busyTimeout: TimeInterval
    private let answerTimeout: TimeInterval
    /// `?` placeholders rewritten as `$1, $2, …`, by statement.
    private var numbered: [String: String] = [:]
    /// Statements sent by `SQLSession.send` whose answers are not yet read, oldest first. The
    /// connection runs statements in the order they were sent; the next statement that needs
    /// an answer (and every commit) first reads these, and reports the first that failed.
    private var unanswered: [EventLoopFuture<PostgresQueryResult>] = []
    /// How many statements `send` lets go ahead of their answers: roster builds the next ones
    /// while the server runs these.
    static let sendAhead = 8

    /// Opens (creating the schema and migrating it when needed) the store at `location`;
    /// `random` makes the lineage of a new store. Waits up to `busyTimeout` seconds for locks,
    /// and up to `answerTimeout` seconds for the server to answer a statement.
    public init(location: PostgresLocation, random: any RandomSource = SystemRandomSource(),
                busyTimeout: TimeInterval = 30, answerTimeout: TimeInterval = 120) throws {
        self.location = location
        self.busyTimeout = busyTimeout
        self.answerTimeout = answerTimeout
        var logger = Logger(label: "roster.postgres")
        logger.logLevel = .critical
        self.logger = logger
        ownsConnection = true
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: try Self.tls(location))
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeout))
        configuration.options.additionalStartupParameters = [("application_name", "roster")]
        do {
            connection = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(),
                                                        configuration: configuration, id: 1, logger: logger).wait()
        } catch {
            throw StoreError.postgres(Self.describe(error, at: location))
        }
        do {
            try configureSession()
            try migrate(random: random)
        } catch {
            try? connection.close().wait()
            throw error
        }
    }

    /// A store over a connection leased from `PostgresPool`, for one call: the pool has set the
    /// session up (`sessionParameters`) and migrated the store when it opened. Its apply and
    /// delivery locks are session advisory locks on this connection alone.
    init(leased connection: PostgresConnection, location: PostgresLocation, busyTimeout: TimeInterval,
         answerTimeout: TimeInterval, logger: Logger) {
        self.location = location
        self.connection = connection
        self.busyTimeout = busyTimeout
        self.answerTimeout = answerTimeout
        self.logger = logger
        ownsConnection = false
    }

    deinit {
        if ownsConnection { try? connection.close().wait() }
    }

    /// The server's major version times 10,000 (`server_version_num`), as this session reads it.
    func serverVersion() throws -> Int {
        Int(try PostgresSession(store: self).integer("SELECT current_setting('server_version_num')::bigint") ?? 0)
    }

    /// What `configureSession` sets, as startup parameters of a pooled connection (PostgreSQL
    /// takes any run-time setting in the startup message), so a leased connection needs no
    /// statement before its first query. `version` is `serverVersion()`.
    static func sessionParameters(location: PostgresLocation, busyTimeout: TimeInterval, version: Int) -> [(String, String)] {
        var parameters = [
            ("application_name", "roster"),
            ("search_path", "\"\(location.schema)\""),
            ("lock_timeout", "\(Int(busyTimeout * 1000))ms"),
            ("tcp_keepalives_idle", "30"),
            ("tcp_keepalives_interval", "10"),
            ("tcp_keepalives_count", "3"),
            ("idle_in_transaction_session_timeout", "60s"),
        ]
        if version >= 140_000 { parameters.append(("client_connection_check_interval", "10s")) }
        return parameters
    }

    /// libpq's `sslmode` as a TLS configuration; nil for `disable`.
    private static func tlsConfiguration(_ location: PostgresLocation) -> TLSConfiguration? {
        switch location.tls {
        case .disable:
            return nil
        case .require:
            // libpq's `require`: encrypted, certificate not checked.
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            return .makeClientConfiguration()
        }
    }

    private static func tls(_ location: PostgresLocation) throws -> PostgresConnection.Configuration.TLS {
        guard let configuration = tlsConfiguration(location) else { return .disable }
        return .require(try NIOSSLContext(configuration: configuration))
    }

    /// The same TLS choice for a pooled client, which takes the configuration rather than a context.
    static func clientTLS(_ location: PostgresLocation) -> PostgresClient.Configuration.TLS {
        tlsConfiguration(location).map { .require($0) } ?? .disable
    }

    // MARK: Migrations

    /// Named migrations in order, each a script of statements run in one transaction and
    /// recorded in `roster_migrations`. Never edit a shipped migration: add one.
    static let migrations: [(name: String, script: String)] = [
        ("v1-directory", PostgresSchema.v1),
        ("v2-delivery", PostgresSchema.v2),
        ("v3-events", PostgresSchema.v3),
        ("v4-reading", PostgresSchema.v4),
    ]

    /// Bounds every wait of this session, on both sides of the connection.
    private func configureSession() throws {
        let session = PostgresSession(store: self)
        try session.execute("SET lock_timeout = '\(Int(busyTimeout * 1000))ms'")
        // The server notices a client whose machine died (and frees its locks) within a minute…
        try session.execute("SET tcp_keepalives_idle = 30")
        try session.execute("SET tcp_keepalives_interval = 10")
        try session.execute("SET tcp_keepalives_count = 3")
        // …and ends a session left idle in an open transaction (a stopped process).
        try session.execute("SET idle_in_transaction_session_timeout = '60s'")
        if try session.integer("SELECT current_setting('server_version_num')::bigint") ?? 0 >= 140_000 {
            // PostgreSQL 14+: a running statement stops when its client is gone.
            try session.execute("SET client_connection_check_interval = '10s'")
        }
    }

    private func migrate(random: any RandomSource) throws {
        let session = PostgresSession(store: self)
        let schema = location.schema
        // Two processes opening a new store at once would both find it unmigrated; the second
        // waits here and then finds the work done.
        try session.execute("SELECT pg_advisory_lock(\(lockKey("migrate")))")
        defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(lockKey("migrate")))") }
        if try session.integer("SELECT COUNT(*) FROM pg_namespace WHERE nspname = ?", [schema]) == 0 {
            try session.execute("CREATE SCHEMA \"\(schema)\"")
        }
        try session.execute("SET search_path TO \"\(schema)\"")
        try session.execute("CREATE TABLE IF NOT EXISTS roster_migrations (identifier TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        let applied = Set(try session.rows("SELECT identifier FROM roster_migrations") { try $0.text(0) })
        for migration in Self.migrations where !applied.contains(migration.name) {
            try transaction("BEGIN", writes: true) { db in
                // One statement per query (the extended protocol takes one at a time); a
                // statement ends with the semicolon that ends a line.
                for statement in migration.script.components(separatedBy: ";\n") where !statement.allSatisfy(\.isWhitespace) {
                    try db.execute(statement)
                }
                if migration.name == "v1-directory" {
                    isNew = true
                    try db.execute("INSERT INTO meta (key, value) VALUES ('lineage', ?), ('serial', '0'), ('audit_head', ?)",
                                   [uuidString(random.bytes(16)), AuditChain.genesis])
                }
                try db.execute("INSERT INTO roster_migrations (identifier, applied_at) VALUES (?, ?)",
                               [migration.name, Timestamp.string(Date())])
            }
        }
    }

    /// The names of the migrations applied to this store, in order.
    public func appliedMigrations() throws -> [String] {
        try PostgresSession(store: self).rows("SELECT identifier FROM roster_migrations ORDER BY applied_at, identifier") {
            try $0.text(0)
        }
    }

    // MARK: Sessions and locks

    public func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", writes: false, body)
    }

    public func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction("BEGIN", writes: true) { db in
            try db.execute("SELECT pg_advisory_xact_lock(\(lockKey("write")))")
            return try body(db)
        }
    }

    private func transaction<T>(_ begin: String, writes: Bool, _ body: (any SQLSession) throws -> T) throws -> T {
        let session = PostgresSession(store: self)
        try session.execute(begin)
        let result: T
        do {
            result = try body(session)
            try readUnanswered()
        } catch {
            try? readUnanswered()
            _ = try? session.execute("ROLLBACK")
            throw error
        }
        do {
            try session.execute("COMMIT")
        } catch let error as StoreError where !connection.isClosed || !writes {
            throw error
        } catch {
            // Lost while committing: the server may or may not have committed before it went.
            throw StoreError.postgres(.lostWhileCommitting(url: displayURL))
        }
        return result
    }

    /// New messages from this many on: autovacuum gathers statistics only a while after a
    /// large commit, and until then the planner takes the tables for nearly empty. A first
    /// apply's delivery then ran its page query with nested scans of every pending message
    /// (54 s for 100,000 messages instead of 17 s).
    static let statisticsAfterMessages = 5000

    /// `ANALYZE` of the tables delivery reads (about 0.7 s for 100,000 users). Best effort: a
    /// role that may write the tables but not analyze them leaves it to autovacuum.
    public func refreshStatistics(afterIssuing messages: Int) {
        guard messages >= Self.statisticsAfterMessages else { return }
        _ = try? PostgresSession(store: self).execute("ANALYZE users, invitations, outbox")
    }

    /// A session-level advisory lock of its own, tried once; freed by the server if the process dies.
    public func withDeliveryLock<T>(_ body: () throws -> T) throws -> T? {
        let session = PostgresSession(store: self)
        let key = lockKey("deliver")
        guard try session.first("SELECT pg_try_advisory_lock(\(key))", [], { try $0.bool(0) }) == true else { return nil }
        defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(key))") }
        return try body()
    }

    public func withApplyLock<T>(holder: LockHolder, timeout: TimeInterval, _ body: () throws -> T) throws -> T {
        let session = PostgresSession(store: self)
        let key = lockKey("apply")
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while try session.first("SELECT pg_try_advisory_lock(\(key))", [], { try $0.bool(0) }) != true {
            if Date() >= deadline {
                // The holder records itself just after taking the lock: look twice more before giving up on a name.
                var holder = try lockHolder(session, key: key)
                for _ in 0..<2 where holder == nil {
                    usleep(50_000)
                    holder = try lockHolder(session, key: key)
                }
                throw StoreError.lockHeld(holder: holder)
            }
            usleep(100_000)
        }
        defer {
            _ = try? session.execute("DELETE FROM apply_lock_holders WHERE backend_pid = pg_backend_pid()")
            _ = try? session.execute("SELECT pg_advisory_unlock(\(key))")
        }
        // Rows of backends that are gone (killed applies) are removed on the way.
        try session.execute("""
            DELETE FROM apply_lock_holders
            WHERE backend_pid = pg_backend_pid() OR backend_pid NOT IN (SELECT pid FROM pg_stat_activity)
            """)
        try session.execute("INSERT INTO apply_lock_holders (backend_pid, host, pid, actor, since) VALUES (pg_backend_pid(), ?, ?, ?, ?)",
                            [holder.host, Int(holder.pid), holder.actor, holder.since])
        return try body()
    }

    /// Who holds the advisory lock `key` in this database, as its holder recorded it.
    private func lockHolder(_ session: PostgresSession, key: Int64) throws -> LockHolder? {
        try session.first("""
            SELECT h.host, h.pid, h.actor, h.since
            FROM pg_locks l JOIN apply_lock_holders h ON h.backend_pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid::bigint = \(key >> 32) AND l.objid::bigint = \(key & 0xFFFF_FFFF) AND l.objsubid = 1
            """) { row in
            LockHolder(host: try row.text(0), pid: Int32(truncatingIfNeeded: try row.integer(1)), actor: try row.text(2),
                       since: try row.text(3))
        }
    }

    /// A positive 64-bit advisory lock key for `purpose`, distinct for each schema: advisory
    /// locks are per database, and each schema is a store of its own.
    private func lockKey(_ purpose: String) -> Int64 {
        Int64(UInt64(bitPattern: Fingerprint.text("roster", purpose, location.schema)) >> 2)
    }

    // MARK: Queries

    fileprivate func run(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        try readUnanswered()
        return try answer(try sendQuery(sql, CollectionOfOne(arguments)))
    }

    /// Sends a statement whose answer nobody reads but for its errors (a multi-row insert).
    fileprivate func send(_ sql: String, rows: ArraySlice<SQLArguments>) throws {
        if unanswered.count >= Self.sendAhead { _ = try answer(unanswered.removeFirst()) }
        unanswered.append(try sendQuery(sql, rows))
    }

    /// Reads every unanswered statement's answer; throws the first failure, after waiting for all.
    fileprivate func readUnanswered() throws {
        var failure: (any Error)?
        while !unanswered.isEmpty {
            do {
                _ = try answer(unanswered.removeFirst())
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
    }

    /// Sends `sql` with the values of `rows`, one after the other.
    private func sendQuery(_ sql: String, _ rows: some Collection<SQLArguments>) throws -> EventLoopFuture<PostgresQueryResult> {
        guard !connection.isClosed else { throw StoreError.postgres(.connectionLost(server: server)) }
        var binds = PostgresBindings(capacity: rows.valueCount)
        for argument in rows.joined() {
            switch argument?.sqlValue ?? .null {
            case .null: binds.appendNull()
            case .integer(let value): binds.append(value)
            case .real(let value): binds.append(value)
            case .text(let value): binds.append(value)
            case .blob(let value): binds.append(ByteBuffer(bytes: value))
            }
        }
        let statement: String
        if let cached = numbered[sql] {
            statement = cached
        } else {
            statement = Self.numberPlaceholders(sql)
            numbered[sql] = statement
        }
        return connection.query(PostgresQuery(unsafeSQL: statement, binds: binds), logger: logger)
    }

    private func answer(_ query: EventLoopFuture<PostgresQueryResult>) throws -> PostgresQueryResult {
        do {
            return try wait(for: query)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.postgres(Self.describe(error, at: location))
        }
    }

    /// The result of `future`, or an error when the server does not answer within
    /// `answerTimeout` (the connection is then closed), or a second after the connection
    /// closed without an answer: postgres-nio can leave a query unanswered forever when the
    /// server ends the session between two queries.
    private func wait<T: Sendable>(for future: EventLoopFuture<T>) throws -> T {
        let answered = DispatchSemaphore(value: 0)
        future.whenComplete { _ in answered.signal() }
        let deadline = Date().addingTimeInterval(answerTimeout)
        var closedSince: Date?
        while answered.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if Date() >= deadline {
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
                throw StoreError.postgres(.noAnswer(server: server, seconds: Int(answerTimeout)))
            }
            guard connection.isClosed else { continue }
            let since = closedSince ?? Date()
            closedSince = since
            if Date().timeIntervalSince(since) > 1 { throw StoreError.postgres(.connectionLost(server: server)) }
        }
        return try future.wait()
    }

    /// `host:port`, as errors name the server.
    private var server: String { "\(location.host):\(location.port)" }

    /// `?` → `$1, $2, …`, leaving quoted text alone.
    static func numberPlaceholders(_ sql: String) -> String {
        var result = ""
        var index = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// What went wrong, naming the server (password masked).
    static func describe(_ error: any Error, at location: PostgresLocation) -> PostgresFailure {
        let server = "\(location.host):\(location.port)"
        guard let error = error as? PSQLError else { return .cannotConnect(server: server, reason: "\(error)") }
        if let info = error.serverInfo, let message = info[.message] {
            switch info[.sqlState] ?? "" {
            case "28P01", "28000": return .refusedUser(server: server, user: location.user, message: message)
            case "3D000": return .noDatabase(server: server, database: location.database)
            case "55P03": return .lockWaitExceeded(message: message)
            case "57P01", "57P02", "57P03": return .sessionEnded(server: server, message: message)
            case let state: return .serverError(server: server, state: state, message: message)
            }
        }
        switch error.code {
        case .connectionError:
            if let underlying = error.underlying as? ChannelError, case .connectTimeout = underlying {
                return .connectTimeout(server: server, seconds: location.connectTimeout)
            }
            return .cannotConnect(server: server, reason: error.underlying.map { "\($0)" } ?? "connection failed")
        case .sslUnsupported:
            return .noTLS(server: server, sslmode: location.tls.rawValue)
        case .authMechanismRequiresPassword:
            return .passwordNeeded(server: server, user: location.user)
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            return .connectionLost(server: server)
        default:
            return .failed(server: server, code: "\(error.code)")
        }
    }
}

/// The store's connection behind `SQLSession`.
struct PostgresSession: SQLSession {
    var isPostgres: Bool { true }
    unowned let store: PostgresStore

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        try store.run(sql, arguments).metadata.rows ?? 0
    }

    func send(_ sql: String, rows: ArraySlice<SQLArguments>) throws {
        try store.send(sql, rows: rows)
    }

    func forEachRow(_ sql: String, _ arguments: SQLArguments, _ body: (any SQLRow) throws -> Void) throws {
        for row in try store.run(sql, arguments) {
            try body(PostgresSQLRow(row: row.makeRandomAccess()))
        }
    }
}

/// A PostgreSQL result row read by position.
struct PostgresSQLRow: SQLRow {
    let row: PostgresRandomAccessRow

    func text(_ column: Int) throws -> String { try row[column].decode(String.self) }
    func optionalText(_ column: Int) throws -> String? { try row[column].decode(String?.self) }
    func integer(_ column: Int) throws -> Int64 { try row[column].decode(Int64.self) }
    func optionalInteger(_ column: Int) throws -> Int64? { try row[column].decode(Int64?.self) }
    func real(_ column: Int) throws -> Double { try row[column].decode(Double.self) }
    func optionalReal(_ column: Int) throws -> Double? { try row[column].decode(Double?.self) }
    func bool(_ column: Int) throws -> Bool {
        let cell = row[column]
        return cell.dataType == .bool ? try cell.decode(Bool.self) : try cell.decode(Int64.self) != 0
    }
    func blob(_ column: Int) throws -> [UInt8] { Array(try row[column].decode(ByteBuffer.self).readableBytesView) }
}
