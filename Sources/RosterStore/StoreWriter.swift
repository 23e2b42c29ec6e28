import Foundation
import RosterCore

extension SQLStore {
    public func apply(_ plan: Plan, context: ApplyContext) throws -> ApplyOutcome {
        try write { db in
            let info = try Self.storeInfo(db, backend: backend)
            guard plan.store.lineage == info.lineage, plan.store.serial == info.serial else {
                let since = try Self.auditRecords(db, afterSerial: plan.store.serial, user: nil, since: nil)
                throw StoreError.stalePlan(planLineage: plan.store.lineage, planSerial: plan.store.serial,
                                           lineage: info.lineage, serial: info.serial, since: since)
            }
            guard !plan.changes.isEmpty else { return ApplyOutcome(serial: info.serial, applied: 0, messages: 0) }
            var writer = StoreWriter(db: db, context: context, serial: info.serial + 1)
            try writer.loadChainHead()
            let encoder = AuditEncoder()
            for change in plan.changes {
                try writer.apply(change)
                try writer.audit(action: .change(change.action), type: change.type, id: change.id,
                                 change: try encoder.json(change), userKey: change.userKey)
            }
            try writer.finish()
            try db.execute("UPDATE meta SET value = ? WHERE key = 'serial'", [String(info.serial + 1)])
            return ApplyOutcome(serial: info.serial + 1, applied: plan.changes.count, messages: writer.messages)
        }
    }
}

/// Writes one plan's changes inside an open transaction, on either backend.
struct StoreWriter {
    let db: any SQLSession
    let context: ApplyContext
    let serial: Int
    let now: String
    var messages = 0
    private var chainHead = AuditChain.genesis
    /// The last audit `seq`: records are numbered here, one more each, under the writer lock.
    private var sequence = 0

    init(db: any SQLSession, context: ApplyContext, serial: Int) {
        self.db = db
        self.context = context
        self.serial = serial
        self.now = Timestamp.string(context.now)
    }

    /// Runs one statement; returns how many rows it changed. SQLite compiles each distinct
    /// statement once and reuses it (a first apply runs hundreds of thousands); PostgreSQL
    /// sends each with its arguments, one round trip each.
    @discardableResult
    func run(sql: String, arguments: SQLArguments = []) throws -> Int {
        try db.execute(sql, arguments)
    }

    mutating func loadChainHead() throws {
        let last = try db.first("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") { row in
            (try row.integer(0), try row.text(1))
        }
        sequence = Int(last?.0 ?? 0)
        chainHead = last?.1 ?? AuditChain.genesis
    }

    /// Appends one audit record chained to the previous one; `userKey` ties it to a user's
    /// identity, so the user's history survives a rename.
    mutating func audit(action: AuditAction, type: EntityType, id: String, change: String, userKey: String?) throws {
        let hash = AuditChain.hash(previous: chainHead, serial: serial, at: now, actor: context.actor,
                                   commit: context.commit, action: action.rawValue, entityType: type.rawValue,
                                   entityID: id, change: change)
        sequence += 1
        try run(sql: """
            INSERT INTO audit (seq, serial, at, actor, git_commit, action, entity_type, entity_id, change, prev_hash, hash, user_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT id FROM users WHERE email_key = ?))
            """, arguments: [sequence, serial, now, context.actor, context.commit, action.rawValue, type.rawValue, id, change,
                             chainHead, hash, userKey])
        chainHead = hash
    }

    /// Records the chain's last hash in the same transaction, so a log cut short is detected too.
    func finish() throws {
        try run(sql: "UPDATE meta SET value = ? WHERE key = 'audit_head'", arguments: [chainHead])
    }

    func userID(_ key: String) throws -> Int64 {
        guard let id = try db.integer("SELECT id FROM users WHERE email_key = ?", [key]) else {
            throw StoreError.inconsistent(.userMissing(email: key))
        }
        return id
    }

    mutating func apply(_ change: Change) throws {
        switch change.after ?? change.before {
        case .role(let role)?:
            try applyRole(change, role)
        case .user(let user)?:
            try applyUser(change, user)
        case .customer(let customer)?:
            try run(sql: """
                INSERT INTO customers (id, name, owner_id, active, applied, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner_id = excluded.owner_id,
                    active = excluded.active, applied = excluded.applied, updated_at = excluded.updated_at
                """, arguments: [customer.id, customer.name, try userID(customer.owner), customer.active,
                                 Fingerprint.customer(customer), now, now])
        case .account(let account)?:
            try run(sql: """
                INSERT INTO accounts (id, customer_id, name, service, owner_id, active, applied, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, name = excluded.name,
                    service = excluded.service, owner_id = excluded.owner_id, active = excluded.active,
                    applied = excluded.applied, updated_at = excluded.updated_at
                """, arguments: [account.id, account.customer, account.name, account.service, try userID(account.owner),
                                 account.active, Fingerprint.account(account), now, now])
        case .membership(let membership)?:
            try applyMembership(change, membership)
        case nil:
            try applyInvitation(change)
        }
    }

    private func applyRole(_ change: Change, _ role: RoleState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let permissions = String(decoding: try encoder.encode(role.permissions), as: UTF8.self)
        try run(sql: """
            INSERT INTO roles (id, name, description, permissions, active, applied, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
                permissions = excluded.permissions, active = excluded.active, applied = excluded.applied,
                updated_at = excluded.updated_at
            """, arguments: [role.id, role.name, role.description, permissions, role.active, Fingerprint.role(role), now, now])
    }

    private mutating func applyUser(_ change: Change, _ user: UserState) throws {
        let changed: Int
        switch change.action {
        case .invite:
            changed = try run(sql: """
                INSERT INTO users (email_key, email, name, status, applied, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [user.key, user.email, user.name, UserStatus.invited.rawValue, Fingerprint.user(user), now, now])
        case .adopt:
            // Already on the platform: active, as if it had accepted (a later reactivation keeps it active).
            changed = try run(sql: """
                INSERT INTO users (email_key, email, name, status, applied, created_at, updated_at, accepted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [user.key, user.email, user.name, UserStatus.active.rawValue, Fingerprint.user(user), now, now, now])
        case .rename:
            guard case .user(let old)? = change.before else { throw StoreError.inconsistent(.renameWithoutPreviousUser) }
            changed = try run(sql: "UPDATE users SET email_key = ?, email = ?, applied = ?, updated_at = ? WHERE email_key = ?",
                              arguments: [user.key, user.email, Fingerprint.user(user), now, old.key])
        case .deactivate:
            changed = try run(sql: """
                UPDATE users SET status = ?, applied = ?, deactivated_at = ?, updated_at = ? WHERE email_key = ?
                """, arguments: [UserStatus.inactive.rawValue, Fingerprint.user(user), now, now, user.key])
        default:
            changed = try run(sql: """
                UPDATE users SET email = ?, name = ?, status = ?, applied = ?, updated_at = ?,
                    deactivated_at = CASE WHEN ? = 1 THEN deactivated_at ELSE NULL END
                WHERE email_key = ?
                """, arguments: [user.email, user.name, user.status.rawValue, Fingerprint.user(user), now,
                                 user.status == .inactive, user.key])
        }
        guard changed == 1 else {
            let email = if case .user(let old)? = change.before, change.action == .rename { old.email } else { user.email }
            throw StoreError.inconsistent(.userMissing(email: email))
        }
        if let invitation = change.invitation {
            try issueInvitation(invitation, reissueCount: 0)
        }
    }

    private func applyMembership(_ change: Change, _ membership: MembershipState) throws {
        let user = try userID(membership.key.user)
        let scope = membership.key.scope
        switch change.action {
        case .grant:
            try run(sql: """
                INSERT INTO memberships (user_id, scope_kind, scope_id, roles, expires, applied, started_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [user, scope.kind.rawValue, scope.id, membership.roles.joined(separator: ","),
                                 membership.expires, Fingerprint.membership(membership), now])
        case .revoke:
            let changed = try run(sql: """
                UPDATE memberships SET ended_at = ?, end_reason = ?
                WHERE user_id = ? AND scope_kind = ? AND scope_id = ? AND ended_at IS NULL
                """, arguments: [now, change.reason ?? Change.removedFromFiles, user, scope.kind.rawValue, scope.id])
            guard changed == 1 else { throw StoreError.inconsistent(.membershipNotActive(id: change.id)) }
        default:
            let changed = try run(sql: """
                UPDATE memberships SET roles = ?, expires = ?, applied = ?
                WHERE user_id = ? AND scope_kind = ? AND scope_id = ? AND ended_at IS NULL
                """, arguments: [membership.roles.joined(separator: ","), membership.expires,
                                 Fingerprint.membership(membership), user, scope.kind.rawValue, scope.id])
            guard changed == 1 else { throw StoreError.inconsistent(.membershipNotActive(id: change.id)) }
        }
    }

    private mutating func applyInvitation(_ change: Change) throws {
        switch change.action {
        case .reissueInvitation:
            guard let invitation = change.invitation, let replaces = invitation.replaces else {
                throw StoreError.inconsistent(.reissueNamesNoInvitation(change: change.id))
            }
            let count = try db.integer("""
                SELECT reissue_count FROM invitations WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL
                """, [replaces]).map(Int.init)
            guard let count else { throw StoreError.inconsistent(.invitationNotPending(id: replaces)) }
            try revokeInvitations(userKey: invitation.user)
            try issueInvitation(invitation, reissueCount: count + 1)
        case .revokeInvitation:
            try revokeInvitations(userKey: change.id.lowercased())
        default:
            throw StoreError.inconsistent(.cannotApply(action: change.action, type: change.type))
        }
    }

    /// Revokes the user's pending invitations and erases their undelivered messages.
    func revokeInvitations(userKey: String) throws {
        let user = try userID(userKey)
        try run(sql: """
            UPDATE outbox SET message = NULL, token = NULL, status = 'revoked', last_error = 'invitation revoked'
            WHERE status IN ('pending', 'failed') AND invitation_id IN
                (SELECT id FROM invitations WHERE user_id = ? AND accepted_at IS NULL AND revoked_at IS NULL)
            """, arguments: [user])
        try run(sql: "UPDATE invitations SET revoked_at = ? WHERE user_id = ? AND accepted_at IS NULL AND revoked_at IS NULL",
                       arguments: [now, user])
    }

    /// A new token (only its hash stored), the invitation row, and its message in the outbox;
    /// returns the invitation's id.
    @discardableResult
    mutating func issueInvitation(_ invitation: InvitationPlan, reissueCount: Int) throws -> String {
        let user = try userID(invitation.user)
        let id = hex(context.random.bytes(16))
        let token = base64URL(context.random.bytes(32))
        let expires = context.now.addingTimeInterval(TimeInterval(context.invitations.ttl))
        let details = String(decoding: try JSONEncoder().encode(invitation), as: UTF8.self)
        try run(sql: """
            INSERT INTO invitations (id, user_id, token_hash, details, inviter, issued_at, expires_at, expires_epoch, reissue_count)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, user, tokenHash(token), details, invitation.inviter, now, Timestamp.string(expires),
                             expires.timeIntervalSince1970, reissueCount])
        // The mail is composed when it is sent; until then the outbox holds the token alone.
        try run(sql: """
            INSERT INTO outbox (id, invitation_id, recipient, token, created_at, status) VALUES (?, ?, ?, ?, ?, 'pending')
            """, arguments: [OutboundInvitation.messageID(invitationID: id), id, invitation.email, token, now])
        messages += 1
        return id
    }
}

extension Change {
    /// The user a change is about, for the audit log; nil for roles and scopes.
    var userKey: String? {
        switch after ?? before {
        case .user(let user)?: return user.key
        case .membership(let membership)?: return membership.key.user
        case nil: return invitation?.user ?? Syntax.emailKey(id)
        default: return nil
        }
    }
}
