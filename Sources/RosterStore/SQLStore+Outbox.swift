import Foundation
import RosterCore

/// The outbox (SPEC §6.2), on either backend: pending messages read in pages with the names a
/// message shows, attempts recorded in one transaction per batch.
extension SQLStore {
    public func pendingMessages(dueBy: Date?, after: String?, limit: Int) throws -> [OutboundInvitation] {
        try readOnWriter { db in
            var conditions = ["o.status = 'pending'", "(o.token IS NOT NULL OR o.message IS NOT NULL)"]
            var arguments: SQLArguments = []
            if let dueBy {
                conditions.append("(o.next_attempt_epoch IS NULL OR o.next_attempt_epoch <= ?)")
                arguments.append(dueBy.timeIntervalSince1970)
            }
            if let after, let created = try db.text("SELECT created_at FROM outbox WHERE id = ?", [after]) {
                // A row value, which both backends match against the (status, created_at, id) index:
                // each page starts where the last ended instead of scanning past it.
                conditions.append("(o.created_at, o.id) > (?, ?)")
                arguments += [created, after]
            }
            arguments.append(limit)
            var rows: [PendingRow] = []
            try db.forEachRow("""
                SELECT o.id, o.invitation_id, o.token, o.message, o.attempts, i.details, i.issued_at, i.expires_at,
                       i.token_hash, u.email, u.name, iu.email, iu.name
                FROM outbox o JOIN invitations i ON i.id = o.invitation_id JOIN users u ON u.id = i.user_id
                LEFT JOIN users iu ON iu.email_key = lower(i.inviter)
                WHERE \(conditions.joined(separator: " AND ")) ORDER BY o.created_at, o.id LIMIT ?
                """, arguments) { row in
                rows.append(PendingRow(
                    messageID: try row.text(0), invitationID: try row.text(1), token: try row.optionalText(2),
                    legacyText: try row.optionalText(3), attempts: Int(try row.integer(4)), details: try row.text(5),
                    issuedAt: try row.text(6), expiresAt: try row.text(7), tokenHash: try row.blob(8),
                    email: try row.text(9), name: try row.optionalText(10), inviterEmail: try row.optionalText(11),
                    inviterName: try row.optionalText(12)))
            }
            // Decoded on every core, in roster's own form by its own reader (JSONDecoder for any
            // other): a sixth of a delivery run with JSONDecoder alone.
            let decoder = JSONDecoder()
            let decoded = Parallel.map(rows) {
                InvitationPlan(compactJSON: $0.details) ?? (try? decoder.decode(InvitationPlan.self, from: Data($0.details.utf8)))
            }
            let plans = try zip(rows, decoded).map { row, plan in
                guard let plan else { throw StoreError.unreadableInvitation(id: row.invitationID) }
                return plan
            }
            let names = try scopeNames(db, Set(plans.flatMap { $0.grants.map(\.scope) }))
            return try zip(rows, plans).map { row, plan in
                guard let token = row.token ?? row.legacyText.flatMap({ legacyToken(in: $0, hash: row.tokenHash) }),
                      let issued = Timestamp.date(row.issuedAt), let expires = Timestamp.date(row.expiresAt) else {
                    throw StoreError.unreadableInvitation(id: row.invitationID)
                }
                let inviter = plan.inviter.map { email in
                    InvitationParty(email: row.inviterEmail ?? email, name: row.inviterName)
                }
                return OutboundInvitation(
                    messageID: row.messageID, invitationID: row.invitationID,
                    recipient: InvitationParty(email: row.email, name: row.name), inviter: inviter,
                    scopes: plan.grants.map { InvitedScope(type: $0.scope.kind, id: $0.scope.id, name: names[$0.scope] ?? nil,
                                                           roles: $0.roles) },
                    token: token, acceptURL: nil, issuedAt: issued, expiresAt: expires, attempts: row.attempts)
            }
        }
    }

    public func countPendingMessages(dueBy: Date?) throws -> Int {
        try read { db in
            let due = dueBy == nil ? "" : " AND (next_attempt_epoch IS NULL OR next_attempt_epoch <= ?)"
            return Int(try db.integer("""
                SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND (token IS NOT NULL OR message IS NOT NULL)\(due)
                """, dueBy.map { [$0.timeIntervalSince1970] } ?? []) ?? 0)
        }
    }

    /// The names of `scopes`, in one query per kind.
    private func scopeNames(_ db: any SQLSession, _ scopes: Set<ScopeRef>) throws -> [ScopeRef: String?] {
        var names: [ScopeRef: String?] = [:]
        for (kind, table) in [(ScopeKind.customer, "customers"), (.account, "accounts")] {
            let ids = scopes.filter { $0.kind == kind }.map(\.id).sorted()
            for chunk in stride(from: 0, to: ids.count, by: 500) {
                let part = Array(ids[chunk..<min(ids.count, chunk + 500)])
                try db.forEachRow("SELECT id, name FROM \(table) WHERE id IN (\(placeholders(part.count)))", part) { row in
                    names[ScopeRef(kind, try row.text(0))] = try row.optionalText(1)
                }
            }
        }
        return names
    }

    /// Delivered messages are marked in statements of up to 512 ids (one round trip each on
    /// PostgreSQL, where a statement per message made delivering 100,000 take 83 s); the others,
    /// each with its own status, error and schedule, in statements of up to 500 that join the
    /// messages' ids to those values (with a statement per failure, recording 100,000 failures
    /// took 30 s on PostgreSQL, now 8 s; BENCHMARKS.md).
    public func recordAttempts(_ updates: [OutboxUpdate], at: Date) throws {
        guard !updates.isEmpty else { return }
        let time = Timestamp.string(at)
        let delivered = updates.filter { $0.status == .delivered }.map(\.messageID)
        try write { db in
            for part in statementParts(delivered, most: 512) {
                let ids: SQLArguments = part.map { $0 }
                // COALESCE (status is never NULL) keeps SQLite from choosing the (status, …) index,
                // which scans every pending message, over the 512 lookups of the primary key.
                try db.execute("""
                    UPDATE outbox SET status = 'delivered', delivered_at = ?, last_attempt_at = ?, token = NULL,
                        message = NULL, attempts = attempts + 1, last_error = NULL, next_attempt_epoch = NULL
                    WHERE id IN (\(placeholders(part.count)))
                        AND COALESCE(status, '') = 'pending'
                    """, [time, time] + ids)
            }
            for part in statementParts(updates.filter { $0.status != .delivered }, most: 500) {
                // VALUES columns are column1… on both backends; a NULL next attempt alone would
                // make PostgreSQL read that column as text, hence the cast.
                try db.execute("""
                    UPDATE outbox SET status = v.column2, last_attempt_at = ?, attempts = attempts + 1,
                        last_error = v.column3, next_attempt_epoch = CAST(v.column4 AS DOUBLE PRECISION)
                    FROM (VALUES \(placeholderRows(part.count, width: 4))) AS v
                    WHERE outbox.id = v.column1 AND COALESCE(outbox.status, '') = 'pending'
                    """, [time] + part.flatMap { update -> SQLArguments in
                        [update.messageID, update.status.rawValue, update.error, update.nextAttempt?.timeIntervalSince1970]
                    })
            }
        }
    }

    public func retryFailedMessages() throws -> Int {
        try write { db in
            try db.execute("""
                UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_epoch = NULL
                WHERE status = 'failed' AND (token IS NOT NULL OR message IS NOT NULL)
                """)
        }
    }

    public func outbox(status: OutboxStatus?) throws -> [OutboxEntry] {
        try read { db in
            try db.rows("""
                SELECT id, recipient, status, attempts, created_at, last_attempt_at, last_error, next_attempt_epoch,
                       delivered_at
                FROM outbox \(status == nil ? "" : "WHERE status = ?") ORDER BY created_at, id
                """, status.map { [$0.rawValue] } ?? []) { row in
                OutboxEntry(id: try row.text(0), recipient: try row.text(1),
                            status: OutboxStatus(rawValue: try row.text(2)) ?? .pending, attempts: Int(try row.integer(3)),
                            createdAt: try row.text(4), lastAttemptAt: try row.optionalText(5), lastError: try row.optionalText(6),
                            nextAttemptAt: try row.optionalReal(7).map { Timestamp.string(Date(timeIntervalSince1970: $0)) },
                            deliveredAt: try row.optionalText(8))
            }
        }
    }
}

/// One pending outbox row and its invitation, as read.
private struct PendingRow {
    var messageID, invitationID: String
    var token, legacyText: String?
    var attempts: Int
    var details, issuedAt, expiresAt: String
    var tokenHash: [UInt8]
    var email: String
    var name, inviterEmail, inviterName: String?
}

/// The clear token inside a message composed by roster before the outbox had a token column:
/// the 43-character base64url word whose SHA-256 is the invitation's stored hash.
func legacyToken(in text: String, hash: [UInt8]) -> String? {
    let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var word = ""
    for character in text + " " {
        if alphabet.contains(character) {
            word.append(character)
            continue
        }
        if word.count == 43, constantTimeEquals(tokenHash(word), hash) { return word }
        word = ""
    }
    return nil
}
