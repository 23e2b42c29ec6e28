import Foundation
import GRDB
import GRDBSQLite

/// The statements a SQLite write transaction sends ahead (`SQLSession.send`, the multi-row
/// inserts of an apply), run on a thread of their own while the transaction's thread builds
/// the next rows.
///
/// In a first apply roster spends about as long building rows (ids, fingerprints, audit hashes)
/// as SQLite spends writing them (B-trees, indexes, the WAL); on two cores the two now overlap.
/// The connection is never used by both threads at once: every other use of the session (a
/// statement, a query, the commit or the rollback) first waits for what was sent (`finish`,
/// `close`), and a statement sent is prepared by the transaction's thread only while nothing
/// runs, and run by nothing else. As on PostgreSQL, a failure is thrown by a later `send` or
/// statement of the transaction, at the latest before its commit, and the transaction is then
/// rolled back.
final class SQLiteSender: @unchecked Sendable {
    // @unchecked: `statements` and `queue` belong to the transaction's thread; `failure` is
    // guarded by `lock`; the connection is handed over as said above.
    private let db: Database
    private var statements: [String: Statement] = [:]
    /// Made at the first `send`: most transactions send nothing.
    private var queue: DispatchQueue?
    private let slots = DispatchSemaphore(value: SQLiteStore.sendAhead)
    private let lock = NSLock()
    private var failure: (any Error)?

    init(db: Database) {
        self.db = db
    }

    /// Runs `sql` with the values of `rows` on the sender's thread, after the statements sent
    /// before it; waits while `SQLiteStore.sendAhead` are still to run.
    func send(_ sql: String, rows: ArraySlice<SQLArguments>) throws {
        if let failure = lock.withLock({ failure }) { throw failure }
        let statement: Statement
        if let known = statements[sql] {
            statement = known
        } else {
            // Prepared here, through GRDB, so nothing may run meanwhile.
            try finish()
            statement = try db.makeStatement(sql: sql)
            statements[sql] = statement
        }
        let queue = self.queue ?? DispatchQueue(label: "roster.sqlite.send", qos: .userInitiated)
        self.queue = queue
        let job = Job(handle: statement.sqliteStatement, connection: db.sqliteConnection, sql: sql, rows: rows,
                      count: rows.valueCount)
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard lock.withLock({ failure == nil }) else { return }
            do {
                try SQLiteSession.bindAndRun(job.handle, sql: job.sql, rows: job.rows, count: job.count,
                                             connection: job.connection)
            } catch {
                lock.withLock { failure = error }
            }
        }
    }

    /// Waits for every statement sent; throws the first that failed.
    func finish() throws {
        queue?.sync {}
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    /// Waits for every statement sent and lets go of the statements, before the transaction ends
    /// either way.
    func close() {
        queue?.sync {}
        statements.removeAll()
    }

    /// One statement to run: its handles and values, handed over whole to the sender's thread.
    private struct Job: @unchecked Sendable {
        let handle: OpaquePointer?
        let connection: OpaquePointer?
        let sql: String
        let rows: ArraySlice<SQLArguments>
        let count: Int
    }
}

