import Foundation
import GRDB
import RosterCore

extension SQLiteStore {
    public func invitations(status: InvitationStatus?, now: Date) throws -> [InvitationRecord] {
        try wrap {
            try queue.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT i.id, u.email, i.inviter, i.issued_at, i.expires_at, i.expires_epoch, i.accepted_at,
                           i.revoked_at, i.reissue_count
                    FROM invitations i JOIN users u ON u.id = i.user_id
                    ORDER BY u.email_key, i.issued_at, i.id
                    """)
                return rows.map { row in
                    let state: InvitationStatus
                    if (row["accepted_at"] as String?) != nil {
                        state = .accepted
                    } else if (row["revoked_at"] as String?) != nil {
                        state = .revoked
                    } else if (row["expires_epoch"] as Double) <= now.timeIntervalSince1970 {
                        state = .expired
                    } else {
                        state = .pending
                    }
                    return InvitationRecord(id: row["id"], email: row["email"], status: state, inviter: row["inviter"],
                                            issuedAt: row["issued_at"], expiresAt: row["expires_at"],
                                            reissueCount: row["reissue_count"])
                }.filter { status == nil || $0.status == status }
            }
        }
    }

    public func acceptInvitation(token: String, now: Date, actor: String) throws -> String {
        let hash = tokenHash(token)
        return try transaction { db in
            // The index finds the candidate; the comparison itself runs in constant time.
            guard let row = try Row.fetchOne(db, sql: """
                SELECT i.id, i.token_hash, i.expires_at, i.expires_epoch, i.accepted_at, i.revoked_at,
                       u.id AS user_id, u.email, u.status
                FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = ?
                """, arguments: [Data(hash)]),
                constantTimeEquals([UInt8](row["token_hash"] as Data), hash)
            else { throw StoreError.unknownToken }
            let email: String = row["email"]
            if (row["accepted_at"] as String?) != nil { throw StoreError.tokenUsed(email: email) }
            if (row["revoked_at"] as String?) != nil || (row["status"] as String) == "inactive" {
                throw StoreError.tokenRevoked(email: email)
            }
            if (row["expires_epoch"] as Double) <= now.timeIntervalSince1970 {
                throw StoreError.tokenExpired(email: email, expiredAt: row["expires_at"])
            }
            let at = Timestamp.string(now)
            let id: String = row["id"]
            try db.execute(sql: "UPDATE invitations SET accepted_at = ? WHERE id = ?", arguments: [at, id])
            try db.execute(sql: "UPDATE users SET status = 'active', accepted_at = ?, updated_at = ? WHERE id = ?",
                           arguments: [at, at, row["user_id"] as Int64])
            // Accepting is the platform's doing, not a directory change: recorded, serial unchanged.
            let context = ApplyContext(actor: actor, commit: nil, now: now, random: SystemRandomSource(),
                                       invitations: InvitationSettings())
            var writer = SQLiteWriter(db: db, context: context, serial: try Self.storeInfo(db).serial)
            try writer.loadChainHead()
            try writer.audit(action: "accept-invitation", type: "invitation", id: email,
                             change: #"{"invitation":"\#(id)"}"#, userKey: Syntax.emailKey(email))
            try writer.finish()
            return email
        }
    }

    public func resendInvitation(email: String, context: ApplyContext) throws {
        try changeInvitation(email: email, action: "resend-invitation", context: context) { writer, db, key in
            let row = try Row.fetchOne(db, sql: """
                SELECT i.details, i.reissue_count FROM invitations i JOIN users u ON u.id = i.user_id
                WHERE u.email_key = ? ORDER BY i.issued_at DESC, i.rowid DESC LIMIT 1
                """, arguments: [key])
            guard let row, let details = try? JSONDecoder().decode(InvitationPlan.self, from: Data((row["details"] as String).utf8))
            else { throw StoreError.noPendingInvitation(email: email) }
            try writer.revokeInvitations(userKey: key)
            try writer.issueInvitation(details, reissueCount: row["reissue_count"])
        }
    }

    public func revokeInvitation(email: String, context: ApplyContext) throws {
        try changeInvitation(email: email, action: "revoke-invitation", context: context) { writer, db, key in
            let pending = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM invitations i JOIN users u ON u.id = i.user_id
                WHERE u.email_key = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                """, arguments: [key]) ?? 0
            guard pending > 0 else { throw StoreError.noPendingInvitation(email: email) }
            try writer.revokeInvitations(userKey: key)
        }
    }

    /// An operator's change to one user's invitation: its own serial and audit record.
    private func changeInvitation(email: String, action: String, context: ApplyContext,
                                  _ body: (inout SQLiteWriter, Database, String) throws -> Void) throws {
        let key = email.lowercased()
        try transaction { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM users WHERE email_key = ?", arguments: [key]) else {
                throw StoreError.unknownUser(email: email)
            }
            guard status == "invited" else { throw StoreError.noPendingInvitation(email: email) }
            let serial = try Self.storeInfo(db).serial + 1
            var writer = SQLiteWriter(db: db, context: context, serial: serial)
            try writer.loadChainHead()
            try body(&writer, db, key)
            try writer.audit(action: action, type: "invitation", id: email, change: #"{"user":"\#(key)"}"#, userKey: key)
            try writer.finish()
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'serial'", arguments: [String(serial)])
        }
    }

    // MARK: Outbox

    public func undeliveredMessages() throws -> [OutboxMessage] {
        try wrap {
            try queue.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, recipient, message, attempts FROM outbox
                    WHERE delivered_at IS NULL AND message IS NOT NULL ORDER BY created_at, id
                    """).map { OutboxMessage(id: $0["id"], recipient: $0["recipient"], text: $0["message"], attempts: $0["attempts"]) }
            }
        }
    }

    public func markDelivered(messageIDs: [String], at: Date) throws {
        guard !messageIDs.isEmpty else { return }
        let time = Timestamp.string(at)
        try transaction { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE outbox SET delivered_at = ?, message = NULL, attempts = attempts + 1, last_error = NULL WHERE id = ?
                """)
            for id in messageIDs { try statement.execute(arguments: [time, id]) }
        }
    }

    public func markFailed(messageID: String, error: String, at: Date) throws {
        try transaction { db in
            try db.execute(sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                           arguments: ["\(Timestamp.string(at)): \(error)", messageID])
        }
    }

    // MARK: Audit

    public func auditRecords(afterSerial: Int?, user: String?, since: Date?) throws -> [AuditRecord] {
        try wrap { try queue.read { db in try Self.auditRecords(db, afterSerial: afterSerial, user: user, since: since) } }
    }

    static func auditRecords(_ db: Database, afterSerial: Int?, user: String?, since: Date?) throws -> [AuditRecord] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let afterSerial {
            conditions.append("serial > ?")
            arguments.append(afterSerial)
        }
        if let user {
            // By identity (which a rename keeps), and by text for records written before it existed.
            conditions.append("""
                (user_id = (SELECT id FROM users WHERE email_key = ?) OR lower(entity_id) = ? OR lower(entity_id) LIKE ? ESCAPE '\\')
                """)
            let key = user.lowercased()
            arguments.append(key)
            arguments.append(key)
            arguments.append(key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "@%")
        }
        if let since {
            conditions.append("at >= ?")
            arguments.append(Timestamp.string(since))
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try Row.fetchAll(db, sql: """
            SELECT seq, serial, at, actor, git_commit, action, entity_type, entity_id, change, prev_hash, hash
            FROM audit \(filter) ORDER BY seq
            """, arguments: StatementArguments(arguments)).map { row in
            AuditRecord(sequence: row["seq"], serial: row["serial"], at: row["at"], actor: row["actor"],
                        commit: row["git_commit"], action: row["action"], entityType: row["entity_type"],
                        entityID: row["entity_id"], change: row["change"], previousHash: row["prev_hash"], hash: row["hash"])
        }
    }

    public func verifyAudit() throws -> AuditVerification {
        try wrap {
            try queue.read { db in
                let head = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'audit_head'") ?? AuditChain.genesis
                return AuditChain.verify(try Self.auditRecords(db, afterSerial: nil, user: nil, since: nil), head: head)
            }
        }
    }
}
