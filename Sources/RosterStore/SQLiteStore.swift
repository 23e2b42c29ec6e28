import Foundation
import GRDB
import RosterCore

/// The embedded store: one SQLite file (`sqlite:PATH`), created and migrated on first use.
///
/// Applies hold a `flock` on `PATH.lock` (reporting its holder) and write in one
/// `BEGIN IMMEDIATE` transaction, so a crash leaves the file at the old serial or the new one.
public final class SQLiteStore: StateStore {
    public let backend = "sqlite"
    public let path: String
    let queue: DatabaseQueue

    public var displayURL: String { "sqlite:\(path)" }

    /// Opens (creating when missing) the store at `path`; `random` makes the lineage of a new store.
    public init(path: String, random: any RandomSource = SystemRandomSource(), busyTimeout: TimeInterval = 30) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        // Two processes opening a new file at once would both see it unmigrated (and race to
        // switch it to WAL); opening and migrating run under an exclusive lock, so the second
        // finds the work done.
        let lock = FileLock(path: path + ".migrate.lock")
        guard try lock.acquire(holder: LockHolder(host: "", pid: getpid(), actor: "migration", since: ""),
                               timeout: busyTimeout).acquired else {
            throw StoreError.database("another process has been migrating \(path) for over \(Int(busyTimeout)) s")
        }
        defer { lock.release() }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try Self.migrator(random: random).migrate(queue)
        } catch let error as DatabaseError {
            throw StoreError.database("cannot open \(path): \(error.message ?? error.description)")
        }
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
        return migrator
    }

    /// The names of the migrations applied to this store, in order.
    public func appliedMigrations() throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
    }

    // MARK: Reading

    public func snapshot() throws -> Snapshot {
        try wrap { try queue.read { db in try Self.snapshot(db) } }
    }

    static func storeInfo(_ db: Database) throws -> StoreInfo {
        let lineage = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'lineage'") ?? ""
        let serial = Int(try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'serial'") ?? "0") ?? 0
        return StoreInfo(backend: "sqlite", lineage: lineage, serial: serial)
    }

    static func snapshot(_ db: Database) throws -> Snapshot {
        var snapshot = Snapshot(store: try storeInfo(db))
        var state = DirectoryState()
        var drifted: Set<String> = []
        let decoder = JSONDecoder()

        // Columns are read by position: a name lookup per value costs more than the row itself.
        let roles = try Row.fetchCursor(db, sql: "SELECT id, name, description, permissions, active, applied FROM roles")
        while let row = try roles.next() {
            let permissions = (try? decoder.decode([String: [String]].self, from: Data((row[3] as String).utf8))) ?? [:]
            let role = RoleState(id: row[0], name: row[1], description: row[2], permissions: permissions, active: row[4])
            state.roles[role.id] = role
            if row[5] as Int64? != Fingerprint.role(role) { drifted.insert(EntityKey.role(role.id)) }
        }
        let counts = try Row.fetchOne(db, sql: """
            SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL)
            """)
        state.users.reserveCapacity(counts?[0] ?? 0)
        state.memberships.reserveCapacity(counts?[1] ?? 0)
        let users = try Row.fetchCursor(db, sql: "SELECT email, name, status, applied, accepted_at IS NOT NULL FROM users")
        while let row = try users.next() {
            let user = UserState(email: row[0], name: row[1], status: UserStatus(rawValue: row[2]) ?? .inactive)
            state.users[user.key] = user
            if row[3] as Int64? != Fingerprint.user(user) { drifted.insert(EntityKey.user(user.key)) }
            if row[4] as Bool { snapshot.everAccepted.insert(user.key) }
        }
        let customers = try Row.fetchCursor(db, sql: """
            SELECT c.id, c.name, u.email_key, c.active, c.applied
            FROM customers c JOIN users u ON u.id = c.owner_id
            """)
        while let row = try customers.next() {
            let customer = CustomerState(id: row[0], name: row[1], owner: row[2], active: row[3])
            state.customers[customer.id] = customer
            if row[4] as Int64? != Fingerprint.customer(customer) { drifted.insert(EntityKey.customer(customer.id)) }
        }
        let accounts = try Row.fetchCursor(db, sql: """
            SELECT a.id, a.customer_id, a.name, a.service, u.email_key, a.active, a.applied
            FROM accounts a JOIN users u ON u.id = a.owner_id
            """)
        while let row = try accounts.next() {
            let account = AccountState(id: row[0], customer: row[1], name: row[2], service: row[3], owner: row[4],
                                       active: row[5])
            state.accounts[account.id] = account
            if row[6] as Int64? != Fingerprint.account(account) { drifted.insert(EntityKey.account(account.id)) }
        }
        let memberships = try Row.fetchCursor(db, sql: """
            SELECT u.email_key, m.scope_kind, m.scope_id, m.roles, m.expires, m.applied, m.ended_at IS NOT NULL
            FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.ended_at IS NULL OR (m.end_reason = 'external' AND NOT EXISTS (
                SELECT 1 FROM memberships later WHERE later.user_id = m.user_id AND later.scope_kind = m.scope_kind
                    AND later.scope_id = m.scope_id AND later.id > m.id))
            """)
        while let row = try memberships.next() {
            let scope = ScopeRef(ScopeKind(rawValue: row[1]) ?? .account, row[2])
            let key = MembershipKey(user: row[0], scope: scope)
            if row[6] as Bool {
                // Last ended by someone outside roster (a later row would be active, and win):
                // granting it again is reverting drift.
                drifted.insert(EntityKey.membership(key))
                continue
            }
            let roles = (row[3] as String).split(separator: ",").map(String.init)
            let membership = MembershipState(key: key, roles: roles, expires: row[4])
            state.memberships[key] = membership
            if row[5] as Int64? != Fingerprint.membership(membership) { drifted.insert(EntityKey.membership(key)) }
        }
        let invitations = try Row.fetchCursor(db, sql: """
            SELECT i.id, u.email_key AS user, i.expires_epoch, i.reissue_count
            FROM invitations i JOIN users u ON u.id = i.user_id
            WHERE i.accepted_at IS NULL AND i.revoked_at IS NULL
            """)
        while let row = try invitations.next() {
            let invitation = PendingInvitation(id: row["id"], user: row["user"],
                                               expiresAt: Date(timeIntervalSince1970: row["expires_epoch"]),
                                               reissueCount: row["reissue_count"])
            snapshot.invitations[invitation.user] = invitation
        }
        snapshot.state = state
        snapshot.drifted = drifted
        return snapshot
    }

    // MARK: Locking

    public func withApplyLock<T>(holder: LockHolder, timeout: TimeInterval, _ body: () throws -> T) throws -> T {
        let lock = FileLock(path: path + ".lock")
        let result = try lock.acquire(holder: holder, timeout: timeout)
        guard result.acquired else { throw StoreError.lockHeld(holder: result.holder) }
        defer { lock.release() }
        return try body()
    }

    /// Runs `body` in one immediate (write-locking) transaction, mapping database errors.
    func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        try wrap {
            try queue.inDatabase { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                guard let result else { throw StoreError.database("transaction produced no result") }
                return result
            }
        }
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw StoreError.database(error.message ?? error.description)
        }
    }
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
