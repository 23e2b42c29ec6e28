import Foundation
import GRDB
import GRDBSQLite
import RosterCore

/// The embedded store: one SQLite file (`sqlite:PATH`), created and migrated on first use.
///
/// Applies hold a `flock` on `PATH.lock` (reporting its holder) and write in one
/// `BEGIN IMMEDIATE` transaction, so a crash leaves the file at the old serial or the new one.
/// The file is reached through GRDB's `DatabasePool` (WAL): reads run on reader connections side
/// by side with the one writer, so the store can be shared by the threads of a server
/// (`SharedStore`); a command's reads and writes go the same way, one at a time.
public final class SQLiteStore: SQLStore, Sendable {
    public let backend = "sqlite"
    public let path: String
    let pool: DatabasePool

    public var displayURL: String { "sqlite:\(path)" }

    /// The page size of a new store's file, in bytes (an existing file keeps its own).
    static let pageSize = 16384

    /// How many statements a write transaction sends ahead of its thread (`SQLiteSender`). A
    /// flush of a first apply's gathered rows is some 25 statements (every table's rows, the
    /// last part of each in power-of-two sizes): with 8, the transaction's thread waited for the
    /// sender in the middle of each flush, and the sender then ran dry while the next rows were
    /// built; with 32 a whole flush goes ahead, and a first apply's transaction took 3.5–4.4 s
    /// less in three interleaved rounds (BENCHMARKS.md, 2026-12-06).
    static let sendAhead = 32

    /// From how many changed rows a transaction's commit leaves its checkpoint to a thread of
    /// its own (`SQLiteCheckpointer`) instead of copying the WAL into the file before it returns.
    static let largeTransaction: Int64 = 10_000

    /// From how many changes a first apply builds its secondary indexes after its rows.
    static let firstApplyIndexesFrom = 1_000

    /// SQLite's own threshold of a checkpoint at commit, in WAL pages (its default).
    static let autocheckpointPages: Int32 = 1000

    let checkpointer: SQLiteCheckpointer

    /// Set when the existing file could be read by other local users (it holds undelivered
    /// tokens): the caller warns, naming the fix.
    public let readableByOthers: Bool

    /// Opens (creating when missing) the store at `path`; `random` makes the lineage of a new store.
    public init(path: String, random: any RandomSource = SystemRandomSource(), busyTimeout: TimeInterval = 30) throws {
        self.path = path
        checkpointer = SQLiteCheckpointer(path: path)
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            // The folder and the file are the owner's alone, whatever the umask: undelivered
            // messages hold clear tokens. SQLite gives its -wal and -shm files the file's mode.
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        if FileManager.default.fileExists(atPath: path) {
            let mode = ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue ?? 0
            readableByOthers = mode & 0o077 != 0
        } else {
            readableByOthers = false
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = fchmod(fd, 0o600)
                close(fd)
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // The writer only: a large apply touches index pages all over, and with the default
            // 2 MiB page cache they are read back from the WAL again and again. The cache grows
            // only as far as a transaction needs it; readers (a server has several) keep the
            // default. Statement journals (each multi-row insert has one) are kept in memory
            // rather than written to a temporary file page by page.
            guard !db.configuration.readonly else { return }
            // A new file only (SQLite ignores it once the file has pages): 16 KiB pages, a
            // quarter as many B-tree pages to split, write and checkpoint as with the default
            // 4 KiB (a first apply's transaction took about a second less, BENCHMARKS.md).
            try db.execute(sql: "PRAGMA page_size = \(Self.pageSize)")
            try db.execute(sql: "PRAGMA cache_size = -131072")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        // Two processes opening a new file at once would both see it unmigrated (and race to
        // switch it to WAL, which the pool does as it opens); opening and migrating run under an
        // exclusive lock, so the second finds the work done.
        let lock = FileLock(path: path + ".migrate.lock")
        guard try lock.acquire(holder: LockHolder(host: "", pid: getpid(), actor: "migration", since: ""),
                               timeout: busyTimeout).acquired else {
            throw StoreError.migrationBusy(path: path, seconds: Int(busyTimeout))
        }
        defer { lock.release() }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator(random: random).migrate(pool)
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(path: path, detail: error.message ?? error.description)
        }
    }

    /// A checkpoint still copying a large transaction's pages finishes first.
    deinit {
        checkpointer.wait()
    }

    /// Named migrations in order; each runs once and is recorded by GRDB in `grdb_migrations`.
    static func migrator(random: any RandomSource) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-directory") { db in
            try db.execute(sql: SQLiteSchema.v1)
            let bytes = random.bytes(16)
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('lineage', ?), ('serial', '0'), ('audit_head', ?)",
                           arguments: [uuidString(bytes), AuditChain.genesis])
        }
        migrator.registerMigration("v2-delivery") { db in
            try db.execute(sql: SQLiteSchema.v2)
        }
        migrator.registerMigration("v3-events") { db in
            try db.execute(sql: SQLiteSchema.v3)
        }
        migrator.registerMigration("v4-reading") { db in
            try db.execute(sql: SQLiteSchema.v4)
        }
        return migrator
    }

    /// The names of the migrations applied to this store, in order.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
    }

    // MARK: Sessions

    public func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try wrap { try pool.read { db in try body(SQLiteSession(db: db, sender: nil)) } }
    }

    /// A deferred transaction on the pool's writer: it reads through the writer's 128 MiB cache
    /// (a delivery run reading 100,000 messages a page at a time made 7 disk reads per message
    /// through a reader, whose cache every commit of the run dropped).
    public func readOnWriter<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try onWriter(.deferred, body)
    }

    /// One `BEGIN IMMEDIATE` transaction: SQLite's write lock is taken at once, so writers queue
    /// (up to the busy timeout) instead of failing at their first write.
    public func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try onWriter(.immediate, body)
    }

    private func onWriter<T>(_ kind: Database.TransactionKind, _ body: (any SQLSession) throws -> T) throws -> T {
        try wrap {
            try pool.writeWithoutTransaction { db in
                var result: T?
                let connection = db.sqliteConnection
                let changesBefore = sqlite3_total_changes64(connection)
                var large = false
                // While a large transaction's checkpoint copies (and writes out) on its own thread,
                // a commit here leaves checkpoints to it; once it is done, commits checkpoint as
                // before.
                sqlite3_wal_autocheckpoint(connection, checkpointer.isRunning ? 0 : Self.autocheckpointPages)
                try db.inTransaction(kind) {
                    let sender = SQLiteSender(db: db)
                    // Before GRDB commits or rolls back: no statement may still run then.
                    defer { sender.close() }
                    result = try body(SQLiteSession(db: db, sender: sender))
                    try sender.finish()
                    if sqlite3_total_changes64(connection) - changesBefore >= Self.largeTransaction {
                        large = true
                        sqlite3_wal_autocheckpoint(connection, 0)
                    }
                    return .commit
                }
                if large { checkpointer.start() }
                guard let result else { preconditionFailure("a committed transaction always has its result") }
                return result
            }
        }
    }

    /// A first apply of `firstApplyIndexesFrom` changes or more drops the tables' non-unique
    /// indexes (those of `CREATE INDEX`: lookups by owner, scope, user, serial, the outbox's
    /// order) and builds them again from the rows at the end, in the same transaction: SQLite
    /// builds an index by sorting, where 1.75 million entries added row by row were a seventh
    /// of a first apply's transaction. Unique indexes stay and check every row as it comes; the
    /// transaction's statements look nothing up through the others (it only inserts into empty
    /// tables). Readers see the indexes throughout, and a crash rolls the drops back with the rest.
    public func dropIndexes(beforeFirstApplyOf changes: Int, _ db: any SQLSession) throws -> [String] {
        guard changes >= Self.firstApplyIndexesFrom else { return [] }
        var indexes: [(name: String, sql: String)] = []
        try db.forEachRow("""
            SELECT s.name, s.sql FROM sqlite_schema s, pragma_index_list(s.tbl_name) l
            WHERE s.type = 'index' AND l.name = s.name AND l.origin = 'c' AND l."unique" = 0
                AND s.tbl_name IN ('users', 'customers', 'accounts', 'memberships', 'invitations', 'outbox', 'audit')
            ORDER BY s.name
            """, []) { row in indexes.append((try row.text(0), try row.text(1))) }
        for index in indexes { try db.execute("DROP INDEX \"\(index.name)\"", []) }
        return indexes.map(\.sql)
    }

    // MARK: Locking

    public func withApplyLock<T>(holder: LockHolder, timeout: TimeInterval, _ body: () throws -> T) throws -> T {
        let lock = FileLock(path: path + ".lock")
        let result = try lock.acquire(holder: holder, timeout: timeout)
        guard result.acquired else { throw StoreError.lockHeld(holder: result.holder) }
        defer { lock.release() }
        return try body()
    }

    /// A `flock` on `PATH.deliver.lock`, tried once: a second run finds it held and leaves.
    public func withDeliveryLock<T>(_ body: () throws -> T) throws -> T? {
        let lock = FileLock(path: path + ".deliver.lock")
        let holder = LockHolder(host: ProcessInfo.processInfo.hostName, pid: getpid(), actor: "delivery",
                                since: Timestamp.string(Date()))
        guard try lock.acquire(holder: holder, timeout: 0).acquired else { return nil }
        defer { lock.release() }
        return try body()
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw StoreError.database(error.message ?? error.description)
        }
    }
}

/// GRDB behind `SQLSession`: statements are compiled once per connection and reused.
struct SQLiteSession: SQLSession {
    let db: Database
    /// A transaction's statements sent ahead (`send`); nil in a read.
    let sender: SQLiteSender?
    var isPostgres: Bool { false }

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        try sender?.finish()
        let statement = try db.cachedStatement(sql: sql)
        if arguments.count > Self.directBindingFrom {
            try Self.bindAndRun(statement, sql: sql, rows: CollectionOfOne(arguments), count: arguments.count, on: db)
        } else {
            try statement.execute(arguments: Self.arguments(arguments))
        }
        return db.changesCount
    }

    /// From how many arguments `execute` binds them through SQLite's C API instead of GRDB's
    /// `StatementArguments`: converting every value to a `DatabaseValue` and validating the list
    /// was a tenth of a first apply's transaction when its inserts went that way (BENCHMARKS.md,
    /// "Writes at scale").
    static let directBindingFrom = 64

    /// Binds the `count` values of `rows`, one after the other, to `statement` and steps it to the end;
    /// the statement is reset afterwards. Errors are GRDB's `DatabaseError`, as from
    /// `Statement.execute`.
    ///
    /// The bindings are not cleared: every run binds every parameter again, and SQLite then
    /// copies each text into the buffer its parameter kept from the last run, where clearing
    /// them had freed every buffer and the next run allocated each anew (a tenth of a first
    /// apply's transaction went to `malloc` and `free`). Only this function runs a statement
    /// of that many parameters, and the statements `send` runs are its own, so GRDB never
    /// meets one with bindings left.
    static func bindAndRun(_ statement: Statement, sql: String, rows: some Collection<SQLArguments>, count: Int,
                           on db: Database) throws {
        try bindAndRun(statement.sqliteStatement, sql: sql, rows: rows, count: count, connection: db.sqliteConnection)
    }

    /// The same on SQLite's own handles, which a thread other than GRDB's may use (`SQLiteSender`).
    static func bindAndRun(_ handle: OpaquePointer?, sql: String, rows: some Collection<SQLArguments>, count: Int,
                           connection: OpaquePointer?) throws {
        func failure(_ code: Int32) -> DatabaseError {
            DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)),
                          sql: sql)
        }
        defer { sqlite3_reset(handle) }
        sqlite3_reset(handle)
        guard sqlite3_bind_parameter_count(handle) == Int32(count) else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "wrong number of statement arguments", sql: sql)
        }
        // SQLITE_TRANSIENT: SQLite copies text and blobs before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, argument) in rows.joined().enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch argument?.sqlValue ?? .null {
            case .null: code = sqlite3_bind_null(handle, index)
            case .integer(let value): code = sqlite3_bind_int64(handle, index, value)
            case .real(let value): code = sqlite3_bind_double(handle, index, value)
            // A nil pointer would bind NULL: empty text and blobs are bound as empty values.
            case .text(var text):
                code = text.withUTF8 { utf8 in
                    guard let base = utf8.baseAddress, !utf8.isEmpty else { return sqlite3_bind_text(handle, index, "", 0, transient) }
                    return sqlite3_bind_text(handle, index, base, Int32(utf8.count), transient)
                }
            case .blob(let bytes):
                code = bytes.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress, !raw.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
                    return sqlite3_bind_blob(handle, index, base, Int32(raw.count), transient)
                }
            }
            guard code == SQLITE_OK else { throw failure(code) }
        }
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_DONE: return
            case SQLITE_ROW: continue
            case let code: throw failure(code)
            }
        }
    }

    func send(_ sql: String, rows: ArraySlice<SQLArguments>) throws {
        guard let sender else {
            try execute(sql, Array(rows.joined()))
            return
        }
        try sender.send(sql, rows: rows)
    }

    func forEachRow(_ sql: String, _ arguments: SQLArguments, _ body: (any SQLRow) throws -> Void) throws {
        try sender?.finish()
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments))
        while let row = try rows.next() { try body(SQLiteRow(row: row)) }
    }

    static func arguments(_ values: SQLArguments) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValue in
            switch value?.sqlValue ?? .null {
            case .null: return .null
            case .integer(let int): return int.databaseValue
            case .real(let double): return double.databaseValue
            case .text(let text): return text.databaseValue
            case .blob(let bytes): return Data(bytes).databaseValue
            }
        })
    }
}

/// A GRDB row read by position; the schema guarantees each column's type.
struct SQLiteRow: SQLRow {
    let row: Row

    func text(_ column: Int) throws -> String { row[column] }
    func optionalText(_ column: Int) throws -> String? { row[column] }
    func integer(_ column: Int) throws -> Int64 { row[column] }
    func optionalInteger(_ column: Int) throws -> Int64? { row[column] }
    func real(_ column: Int) throws -> Double { row[column] }
    func optionalReal(_ column: Int) throws -> Double? { row[column] }
    func bool(_ column: Int) throws -> Bool { row[column] }
    func blob(_ column: Int) throws -> [UInt8] { [UInt8](row[column] as Data) }
}

/// Formats 16 random bytes as a version-4 UUID.
func uuidString(_ bytes: [UInt8]) -> String {
    var b = bytes + [UInt8](repeating: 0, count: max(0, 16 - bytes.count))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    let h = hex(b.prefix(16))
    let c = Array(h)
    return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
}
