/// The SQLite schema, one constant per migration. Never edit a shipped migration: add one.
enum SQLiteSchema {
    static let v1 = """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE roles (
        id TEXT PRIMARY KEY, name TEXT, description TEXT, permissions TEXT NOT NULL,
        active INTEGER NOT NULL, applied INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT, email_key TEXT NOT NULL UNIQUE, email TEXT NOT NULL, name TEXT,
        status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'inactive')), applied INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, accepted_at TEXT, deactivated_at TEXT);
    CREATE TABLE customers (
        id TEXT PRIMARY KEY, name TEXT, owner_id INTEGER NOT NULL REFERENCES users(id), active INTEGER NOT NULL,
        applied INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id), name TEXT, service TEXT,
        owner_id INTEGER NOT NULL REFERENCES users(id), active INTEGER NOT NULL, applied INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE memberships (
        id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL REFERENCES users(id),
        scope_kind TEXT NOT NULL CHECK (scope_kind IN ('customer', 'account')), scope_id TEXT NOT NULL,
        roles TEXT NOT NULL, expires TEXT, applied INTEGER,
        started_at TEXT NOT NULL, ended_at TEXT, end_reason TEXT);
    CREATE UNIQUE INDEX memberships_active ON memberships (user_id, scope_kind, scope_id) WHERE ended_at IS NULL;
    CREATE INDEX memberships_scope ON memberships (scope_kind, scope_id);
    CREATE TABLE invitations (
        id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), token_hash BLOB NOT NULL UNIQUE,
        details TEXT NOT NULL, inviter TEXT, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL,
        expires_epoch REAL NOT NULL, accepted_at TEXT, revoked_at TEXT, reissue_count INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX invitations_user ON invitations (user_id);
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY, invitation_id TEXT NOT NULL REFERENCES invitations(id), recipient TEXT NOT NULL,
        message TEXT, created_at TEXT NOT NULL, delivered_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, serial INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
        git_commit TEXT, action TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL,
        change TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        user_id INTEGER REFERENCES users(id));
    CREATE INDEX audit_serial ON audit (serial);
    CREATE INDEX audit_user ON audit (user_id);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """

    /// The outbox of SPEC §6.2: each message's status and retry schedule; the clear token in a
    /// column of its own (the mail is composed when it is sent, by whichever channel). Rows
    /// of v1 keep their composed text in `message` until delivered.
    static let v2 = """
    ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'revoked'));
    ALTER TABLE outbox ADD COLUMN token TEXT;
    ALTER TABLE outbox ADD COLUMN next_attempt_epoch REAL;
    ALTER TABLE outbox ADD COLUMN last_attempt_at TEXT;
    UPDATE outbox SET status = 'delivered' WHERE delivered_at IS NOT NULL;
    UPDATE outbox SET status = 'revoked' WHERE delivered_at IS NULL AND message IS NULL;
    CREATE INDEX outbox_due ON outbox (status, created_at, id);
    """

    /// Events (SPEC §11): a cursor per endpoint, moved in the same transaction that records an attempt.
    static let v3 = """
    CREATE TABLE event_cursors (
        endpoint TEXT PRIMARY KEY, cursor INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, last_attempt_at TEXT, next_attempt_epoch REAL, created_at TEXT NOT NULL);
    """

    /// Indexes for reading one user's or one scope's access without the whole directory.
    static let v4 = """
    CREATE INDEX customers_owner ON customers (owner_id);
    CREATE INDEX accounts_owner ON accounts (owner_id);
    CREATE INDEX accounts_customer ON accounts (customer_id);
    CREATE INDEX memberships_user ON memberships (user_id) WHERE ended_at IS NULL;
    """
}
