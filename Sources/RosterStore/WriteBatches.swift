import Foundation

/// Writes gathered during an apply: the ends of active memberships first (a new row could clash
/// with an active one not yet ended, never the other way round), then new rows per table, written
/// in multi-row `INSERT … VALUES` statements, and then the role and expiry changes of active
/// memberships (a 1% change is mostly these). The ends and changes go in `UPDATE … FROM (VALUES
/// …)` statements. Tables are written in the order their references need (users before the
/// customers they own, invitations before their messages); rows of one table keep their order.
struct WriteBatches {
    enum Table: Int, CaseIterable {
        case roles, users, customers, accounts, memberships, invitations, outbox, audit

        var name: String {
            switch self {
            case .roles: "roles"
            case .users: "users"
            case .customers: "customers"
            case .accounts: "accounts"
            case .memberships: "memberships"
            case .invitations: "invitations"
            case .outbox: "outbox"
            case .audit: "audit"
            }
        }

        var columns: [String] {
            switch self {
            case .roles: ["id", "name", "description", "permissions", "active", "applied", "created_at", "updated_at"]
            case .users: ["id", "email_key", "email", "name", "status", "applied", "created_at", "updated_at", "accepted_at"]
            case .customers: ["id", "name", "owner_id", "active", "applied", "created_at", "updated_at"]
            case .accounts: ["id", "customer_id", "name", "service", "owner_id", "active", "applied", "created_at", "updated_at"]
            case .memberships: ["user_id", "scope_kind", "scope_id", "roles", "expires", "applied", "started_at"]
            case .invitations: ["id", "user_id", "token_hash", "details", "inviter", "issued_at", "expires_at", "expires_epoch",
                                "reissue_count"]
            case .outbox: ["id", "invitation_id", "recipient", "token", "created_at", "status"]
            case .audit: ["seq", "serial", "at", "actor", "git_commit", "action", "entity_type", "entity_id", "change",
                          "prev_hash", "hash", "user_id"]
            }
        }

        /// Roles, customers and accounts are written whether new or changed: an upsert.
        var onConflict: String {
            switch self {
            case .roles:
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, "
                    + "permissions = excluded.permissions, active = excluded.active, applied = excluded.applied, "
                    + "updated_at = excluded.updated_at"
            case .customers:
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner_id = excluded.owner_id, "
                    + "active = excluded.active, applied = excluded.applied, updated_at = excluded.updated_at"
            case .accounts:
                " ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, name = excluded.name, "
                    + "service = excluded.service, owner_id = excluded.owner_id, active = excluded.active, "
                    + "applied = excluded.applied, updated_at = excluded.updated_at"
            default: ""
            }
        }
    }

    /// Rows gathered before they are written (a few megabytes at most).
    static let limit = 4000

    private var rows: [[SQLArguments]] = Array(repeating: [], count: Table.allCases.count)
    /// The ids gathered for each upserted table: PostgreSQL refuses a statement that changes
    /// one row twice, so a second change of the same id first writes what is gathered.
    private var upserted: [Set<String>] = Array(repeating: [], count: Table.allCases.count)
    /// Each membership update: its change's id, then user id, scope kind, scope id, roles,
    /// expires, applied.
    private var membershipUpdates: [(id: String, row: SQLArguments)] = []
    /// Each membership ended: its change's id, then user id, scope kind, scope id, end, reason.
    private var membershipEnds: [(id: String, row: SQLArguments)] = []
    private var count = 0

    /// Gathers one row; its first value is the row's id.
    mutating func add(_ table: Table, _ row: SQLArguments, _ db: any SQLSession) throws {
        if !table.onConflict.isEmpty, let id = row.first.flatMap({ $0 as? String }) {
            if upserted[table.rawValue].contains(id) { try flush(db) }
            upserted[table.rawValue].insert(id)
        }
        rows[table.rawValue].append(row)
        count += 1
    }

    mutating func updateMembership(_ changeID: String, _ row: SQLArguments) {
        membershipUpdates.append((changeID, row))
        count += 1
    }

    mutating func endMembership(_ changeID: String, _ row: SQLArguments) {
        membershipEnds.append((changeID, row))
        count += 1
    }

    var isFull: Bool { count >= Self.limit }

    /// Writes every gathered row, table by table.
    mutating func flush(_ db: any SQLSession) throws {
        guard count > 0 else { return }
        try Self.updateActiveMemberships(membershipEnds, set: "ended_at = v.column4, end_reason = v.column5", db)
        membershipEnds.removeAll(keepingCapacity: true)
        for table in Table.allCases where !rows[table.rawValue].isEmpty {
            try db.insert(into: table.name, columns: table.columns, rows: rows[table.rawValue], suffix: table.onConflict)
            rows[table.rawValue].removeAll(keepingCapacity: true)
            upserted[table.rawValue].removeAll(keepingCapacity: true)
        }
        try Self.updateActiveMemberships(membershipUpdates, set: "roles = v.column4, expires = v.column5, applied = v.column6", db)
        membershipUpdates.removeAll(keepingCapacity: true)
        count = 0
    }

    /// Sets `assignments` (of the VALUES columns from `column4` on) on the active membership each
    /// of `updates` names; an update whose membership is not active fails the apply.
    private static func updateActiveMemberships(_ updates: [(id: String, row: SQLArguments)], set assignments: String,
                                                _ db: any SQLSession) throws {
        guard let width = updates.first?.row.count else { return }
        for part in statementParts(updates, most: 500) {
            let size = part.count
            // VALUES columns are column1… on both backends.
            let changed = try db.execute("""
                UPDATE memberships SET \(assignments)
                FROM (VALUES \(placeholderRows(size, width: width))) AS v
                WHERE memberships.user_id = v.column1 AND memberships.scope_kind = v.column2
                    AND memberships.scope_id = v.column3 AND memberships.ended_at IS NULL
                """, part.flatMap(\.row))
            guard changed == size else {
                // Which one is not active: the transaction is rolled back either way.
                for update in part {
                    let active = try db.integer("""
                        SELECT COUNT(*) FROM memberships WHERE user_id = ? AND scope_kind = ? AND scope_id = ? AND ended_at IS NULL
                        """, Array(update.row.prefix(3)))
                    if active == 0 { throw StoreError.inconsistent(.membershipNotActive(id: update.id)) }
                }
                throw StoreError.inconsistent(.membershipNotActive(id: part.first?.id ?? ""))
            }
        }
    }
}

extension SQLSession {
    /// Inserts `rows` in multi-row statements of up to 512 rows (fewer for wide tables, within
    /// both backends' parameter limits). The rest after whole statements is written in
    /// power-of-two parts, so only a few distinct statements are ever prepared.
    func insert(into table: String, columns: [String], rows: [SQLArguments], suffix: String = "") throws {
        let most = max(1, min(512, 16_000 / columns.count))
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        for part in statementParts(rows, most: most) {
            try send(head + placeholderRows(part.count, width: columns.count) + suffix, rows: part)
        }
    }
}

/// `?, ?, ?`: `count` placeholders.
func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}

/// `(?, ?), (?, ?)`: the placeholders of `rows` rows of `width` values, for a multi-row `VALUES`.
func placeholderRows(_ rows: Int, width: Int) -> String {
    Array(repeating: "(" + placeholders(width) + ")", count: rows).joined(separator: ", ")
}

/// `items` in the parts that statements of a batch take: `most` while that many are left, then
/// the rest in power-of-two parts, so that only a few distinct statements are ever prepared.
func statementParts<Item>(_ items: [Item], most: Int) -> [ArraySlice<Item>] {
    var parts: [ArraySlice<Item>] = []
    var start = 0
    while start < items.count {
        let left = items.count - start
        let size = left >= most ? most : 1 << (Int.bitWidth - 1 - left.leadingZeroBitCount)
        parts.append(items[start..<start + size])
        start += size
    }
    return parts
}
