import Foundation
import RosterCore

extension SQLStore {
    public func invitations(status: InvitationStatus?, now: Date) throws -> [InvitationRecord] {
        try read { db in
            try db.rows("""
                SELECT i.id, u.email, i.inviter, i.issued_at, i.expires_at, i.expires_epoch, i.accepted_at,
                       i.revoked_at, i.reissue_count
                FROM invitations i JOIN users u ON u.id = i.user_id
                ORDER BY u.email_key, i.issued_at, i.id
                """) { row in
                let state: InvitationStatus
                if try row.optionalText(6) != nil {
                    state = .accepted
                } else if try row.optionalText(7) != nil {
                    state = .revoked
                } else if try row.real(5) <= now.timeIntervalSince1970 {
                    state = .expired
                } else {
                    state = .pending
                }
                return InvitationRecord(id: try row.text(0), email: try row.text(1), status: state,
                                        inviter: try row.optionalText(2), issuedAt: try row.text(3),
                                        expiresAt: try row.text(4), reissueCount: Int(try row.integer(8)))
            }.filter { status == nil || $0.status == status }
        }
    }

    public func acceptInvitation(token: String, now: Date, actor: String) throws -> String {
        let hash = tokenHash(token)
        return try write { db in
            // The index finds the candidate; the comparison itself runs in constant time.
            guard let found = try db.first("""
                SELECT i.id, i.token_hash, i.expires_at, i.expires_epoch, i.accepted_at IS NOT NULL,
                       i.revoked_at IS NOT NULL, u.id, u.email, u.status
                FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = ?
                """, [hash], { row in
                    TokenCandidate(id: try row.text(0), email: try row.text(7), expiresAt: try row.text(2), status: try row.text(8),
                              tokenHash: try row.blob(1), expiresEpoch: try row.real(3), accepted: try row.bool(4),
                              revoked: try row.bool(5), userID: try row.integer(6))
                }),
                constantTimeEquals(found.tokenHash, hash)
            else { throw StoreError.unknownToken }
            if found.accepted { throw StoreError.tokenUsed(email: found.email) }
            if found.revoked || found.status == UserStatus.inactive.rawValue { throw StoreError.tokenRevoked(email: found.email) }
            if found.expiresEpoch <= now.timeIntervalSince1970 {
                throw StoreError.tokenExpired(email: found.email, expiredAt: found.expiresAt)
            }
            let at = Timestamp.string(now)
            try db.execute("UPDATE invitations SET accepted_at = ? WHERE id = ?", [at, found.id])
            try db.execute("UPDATE users SET status = ?, accepted_at = ?, updated_at = ? WHERE id = ?",
                           [UserStatus.active.rawValue, at, at, found.userID])
            // Accepting is the platform's doing, not a directory change: recorded, serial unchanged.
            let context = ApplyContext(actor: actor, commit: nil, now: now, random: SystemRandomSource(),
                                       invitations: InvitationSettings())
            var writer = StoreWriter(db: db, context: context, serial: try Self.storeInfo(db, backend: backend).serial)
            try writer.loadChainHead()
            try writer.audit(action: .acceptInvitation, type: .invitation, id: found.email,
                             change: InvitationAuditChange.json(action: .acceptInvitation, email: found.email,
                                                                invitationID: found.id),
                             userKey: Syntax.emailKey(found.email))
            try writer.finish()
            return found.email
        }
    }

    public func resendInvitation(email: String, context: ApplyContext) throws {
        try changeInvitation(email: email, action: .resendInvitation, context: context) { writer, db, key in
            // The latest invitation (a re-issue made in the same instant counts more).
            let latest = try db.first("""
                SELECT i.details, i.reissue_count FROM invitations i JOIN users u ON u.id = i.user_id
                WHERE u.email_key = ? ORDER BY i.issued_at DESC, i.reissue_count DESC LIMIT 1
                """, [key]) { row in (try row.text(0), Int(try row.integer(1))) }
            guard let latest, let details = try? JSONDecoder().decode(InvitationPlan.self, from: Data(latest.0.utf8))
            else { throw StoreError.noPendingInvitation(email: email) }
            try writer.revokeInvitations(userKey: key)
            return try writer.issueInvitation(details, reissueCount: latest.1)
        }
    }

    public func revokeInvitation(email: String, context: ApplyContext) throws {
        try changeInvitation(email: email, action: .change(.revokeInvitation), context: context) { writer, db, key in
            let pending = try db.text("""
                SELECT i.id FROM invitations i JOIN users u ON u.id = i.user_id
                WHERE u.email_key = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL ORDER BY i.issued_at DESC, i.id
                """, [key])
            guard let pending else { throw StoreError.noPendingInvitation(email: email) }
            try writer.revokeInvitations(userKey: key)
            return pending
        }
    }

    /// An operator's change to one user's invitation: its own serial and audit record.
    /// `body` returns the id of the invitation the record is about.
    private func changeInvitation(email: String, action: AuditAction, context: ApplyContext,
                                  _ body: (inout StoreWriter, any SQLSession, String) throws -> String) throws {
        let key = email.lowercased()
        try write { db in
            guard let status = try db.text("SELECT status FROM users WHERE email_key = ?", [key]) else {
                throw StoreError.unknownUser(email: email)
            }
            guard status == UserStatus.invited.rawValue else { throw StoreError.noPendingInvitation(email: email) }
            let serial = try Self.storeInfo(db, backend: backend).serial + 1
            var writer = StoreWriter(db: db, context: context, serial: serial)
            try writer.loadChainHead()
            let invitationID = try body(&writer, db, key)
            let shown = try db.text("SELECT email FROM users WHERE email_key = ?", [key]) ?? email
            try writer.audit(action: action, type: .invitation, id: shown,
                             change: InvitationAuditChange.json(action: action, email: shown, invitationID: invitationID),
                             userKey: key)
            try writer.finish()
            try db.execute("UPDATE meta SET value = ? WHERE key = 'serial'", [String(serial)])
        }
    }

    // MARK: Audit

    public func auditRecords(afterSerial: Int?, user: String?, since: Date?) throws -> [AuditRecord] {
        try read { db in try Self.auditRecords(db, afterSerial: afterSerial, user: user, since: since) }
    }

    static func auditRecords(_ db: any SQLSession, afterSerial: Int?, user: String?, since: Date?) throws -> [AuditRecord] {
        var conditions: [String] = []
        var arguments: SQLArguments = []
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
        return try db.rows("""
            SELECT seq, serial, at, actor, git_commit, action, entity_type, entity_id, change, prev_hash, hash
            FROM audit \(filter) ORDER BY seq
            """, arguments) { row in
            try auditRecord(row)
        }
    }

    public func records(afterSequence: Int, limit: Int) throws -> [AuditRecord] {
        try read { db in
            try db.rows("""
                SELECT seq, serial, at, actor, git_commit, action, entity_type, entity_id, change, prev_hash, hash
                FROM audit WHERE seq > ? ORDER BY seq LIMIT ?
                """, [afterSequence, limit], auditRecord)
        }
    }

    public func verifyAudit() throws -> AuditVerification {
        try read { db in
            let head = try db.text("SELECT value FROM meta WHERE key = 'audit_head'") ?? AuditChain.genesis
            return AuditChain.verify(try Self.auditRecords(db, afterSerial: nil, user: nil, since: nil), head: head)
        }
    }
}

/// An audit row read in the column order of `auditRecords`.
func auditRecord(_ row: any SQLRow) throws -> AuditRecord {
    let actionText = try row.text(5), typeText = try row.text(6)
    guard let action = AuditAction(rawValue: actionText), let type = EntityType(rawValue: typeText) else {
        throw StoreError.unknownAuditEntry(sequence: Int(try row.integer(0)), action: actionText, entityType: typeText)
    }
    return AuditRecord(sequence: Int(try row.integer(0)), serial: Int(try row.integer(1)), at: try row.text(2),
                       actor: try row.text(3), commit: try row.optionalText(4), action: action, entityType: type,
                       entityID: try row.text(7), change: try row.text(8), previousHash: try row.text(9),
                       hash: try row.text(10))
}

/// The invitation a presented token's hash found, before the constant-time check.
private struct TokenCandidate {
    var id, email, expiresAt, status: String
    var tokenHash: [UInt8]
    var expiresEpoch: Double
    var accepted, revoked: Bool
    var userID: Int64
}
