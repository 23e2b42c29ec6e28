import Foundation

/// A value bound to a statement, the same on every backend. Booleans are stored as the
/// integers 0 and 1 on both, so the tables read the same in `sqlite3` and `psql`.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift value that can be bound to a statement.
public protocol SQLBindable {
    var sqlValue: SQLValue { get }
}

extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Array: SQLBindable where Element == UInt8 { public var sqlValue: SQLValue { .blob(self) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// The arguments of one statement, in the order of its `?` placeholders.
public typealias SQLArguments = [(any SQLBindable)?]

extension Collection<SQLArguments> {
    /// How many values the argument lists hold together: a multi-row statement's placeholders.
    var valueCount: Int { reduce(0) { $0 + $1.count } }
}

/// One result row, read by column position (a name lookup per value costs more than the row).
public protocol SQLRow {
    func text(_ column: Int) throws -> String
    func optionalText(_ column: Int) throws -> String?
    func integer(_ column: Int) throws -> Int64
    func optionalInteger(_ column: Int) throws -> Int64?
    func real(_ column: Int) throws -> Double
    func optionalReal(_ column: Int) throws -> Double?
    /// An integer 0/1 column, or a boolean expression such as `x IS NOT NULL`.
    func bool(_ column: Int) throws -> Bool
    func blob(_ column: Int) throws -> [UInt8]
}

/// A connection inside a transaction (or a read), on whichever backend. The store's SQL is
/// written once, with `?` placeholders, in the subset both SQLite and PostgreSQL accept;
/// each backend adapts placeholders and value types.
public protocol SQLSession {
    /// Runs one statement; returns how many rows it inserted, updated or deleted.
    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int

    /// Runs one statement whose row count nobody needs (a multi-row insert) with the values of
    /// `rows` one after the other. PostgreSQL sends it without waiting, so the server runs it
    /// while roster builds the next; a failure is thrown by a later statement of the
    /// transaction, at the latest by its commit.
    func send(_ sql: String, rows: ArraySlice<SQLArguments>) throws

    /// Runs one query and hands each row to `body`, in order.
    func forEachRow(_ sql: String, _ arguments: SQLArguments, _ body: (any SQLRow) throws -> Void) throws

    /// Whether this is PostgreSQL, for the few statements only it has (sequences).
    var isPostgres: Bool { get }
}

extension SQLSession {
    @discardableResult
    public func execute(_ sql: String) throws -> Int {
        try execute(sql, [])
    }

    /// The rows of a query, each mapped by `transform`.
    public func rows<T>(_ sql: String, _ arguments: SQLArguments = [], _ transform: (any SQLRow) throws -> T) throws -> [T] {
        var result: [T] = []
        try forEachRow(sql, arguments) { result.append(try transform($0)) }
        return result
    }

    /// The first row of a query, mapped by `transform`; nil when there is none.
    public func first<T>(_ sql: String, _ arguments: SQLArguments = [], _ transform: (any SQLRow) throws -> T) throws -> T? {
        var result: T?
        try forEachRow(sql, arguments) { row in
            if result == nil { result = try transform(row) }
        }
        return result
    }

    /// The first column of the first row, as text.
    public func text(_ sql: String, _ arguments: SQLArguments = []) throws -> String? {
        try first(sql, arguments) { try $0.optionalText(0) } ?? nil
    }

    /// The first column of the first row, as an integer.
    public func integer(_ sql: String, _ arguments: SQLArguments = []) throws -> Int64? {
        try first(sql, arguments) { try $0.optionalInteger(0) } ?? nil
    }
}

/// A store kept in a SQL database: SQLite or PostgreSQL. Everything roster reads and writes
/// is written once against `SQLSession` (see `SQLStore+Snapshot`, `StoreWriter` and
/// `SQLStore+Invitations`); a backend supplies sessions, migrations and the apply lock.
public protocol SQLStore: StateStore {
    /// Runs `body` in a read-only transaction that sees one consistent state.
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// Runs `body` in a write transaction, serialised with every other writer of the store;
    /// commits when it returns, rolls back when it throws.
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// `read`, on the connection that writes, for a loop that reads a page and then writes
    /// about it (delivery): that connection's page cache still holds what the last writes
    /// touched, where another connection's cache is dropped at every commit. Takes no write lock.
    func readOnWriter<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// After a commit that issued `messages` invitation messages: brings the statistics the
    /// query planner keeps of the tables delivery reads up to date, when the backend has such
    /// statistics and that many new rows would mislead it.
    func refreshStatistics(afterIssuing messages: Int)
    /// At the start of the first apply to this store (every table empty), of `changes` changes:
    /// drops the indexes that are cheaper to build from the written rows than to grow row by
    /// row, and returns the statements that build them again before the commit.
    func dropIndexes(beforeFirstApplyOf changes: Int, _ db: any SQLSession) throws -> [String]
}

extension SQLStore {
    /// SQLite plans without gathered statistics (roster never runs `ANALYZE` there).
    public func refreshStatistics(afterIssuing messages: Int) {}

    /// PostgreSQL keeps its indexes (it writes a first apply in 48 s, within its 60).
    public func dropIndexes(beforeFirstApplyOf changes: Int, _ db: any SQLSession) throws -> [String] { [] }

    /// One connection reads and writes alike.
    public func readOnWriter<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try read(body)
    }
}
