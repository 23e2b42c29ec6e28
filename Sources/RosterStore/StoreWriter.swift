import Foundation
import RosterCore

extension SQLStore {
    public func apply(_ plan: Plan, context: ApplyContext) throws -> ApplyOutcome {
        let outcome = try write { db in
            let info = try Self.storeInfo(db, backend: backend)
            guard plan.store.lineage == info.lineage, plan.store.serial == info.serial else {
                let since = try Self.auditRecords(db, afterSerial: plan.store.serial, user: nil, since: nil)
                throw StoreError.stalePlan(planLineage: plan.store.lineage, planSerial: plan.store.serial,
                                           lineage: info.lineage, serial: info.serial, since: since)
            }
            guard !plan.changes.isEmpty else { return ApplyOutcome(serial: info.serial, applied: 0, messages: 0) }
            let rebuild = info.serial == 0 ? try dropIndexes(beforeFirstApplyOf: plan.changes.count, db) : []
            var writer = StoreWriter(db: db, context: context, serial: info.serial + 1)
            try writer.loadChainHead()
            try writer.loadUserIDs(plan.userKeys)
            writer.drawInvitationIDs(plan.changes.reduce(0) { $0 + ($1.invitation == nil ? 0 : 1) })
            for change in plan.changes {
                try writer.apply(change)
                try writer.audit(action: .change(change.action), type: change.type, id: change.id,
                                 change: change.compactJSON, userKey: change.userKey)
            }
            try writer.finish()
            for sql in rebuild { try db.execute(sql, []) }
            try db.execute("UPDATE meta SET value = ? WHERE key = 'serial'", [String(info.serial + 1)])
            return ApplyOutcome(serial: info.serial + 1, applied: plan.changes.count, messages: writer.messages)
        }
        refreshStatistics(afterIssuing: outcome.messages)
        return outcome
    }
}

/// Writes one plan's changes inside an open transaction, on either backend.
///
/// New rows are gathered per table and written in multi-row statements (`WriteBatches`);
/// any other statement first writes what is gathered, so every statement sees the rows of
/// the changes before it. A user the plan creates gets its id here (one more than the largest,
/// under the writer lock), and the ids of the users the plan names are read once up front, so
/// no row needs a lookup of its own: a first apply of 440,000 changes makes a few thousand
/// statements, not a million round trips.
struct StoreWriter {
    let db: any SQLSession
    let context: ApplyContext
    let serial: Int
    let now: String
    var messages = 0
    private var chainHead = AuditChain.genesis
    /// The last audit `seq`: records are numbered here, one more each, under the writer lock.
    private var sequence = 0
    private var batches = WriteBatches()
    /// Users' ids by email key, as far as known; a key not here is looked up.
    private var userIDs: [String: Int64] = [:]
    /// Keys known to name no user (a revoked invitation's id, say).
    private var missingUsers: Set<String> = []
    /// The id the next created user gets; nil until a user is created.
    private var nextUserID: Int64?
    /// Ids for the invitations still to be issued, largest first (see `drawInvitationIDs`).
    private var invitationIDs: [String] = []

    init(db: any SQLSession, context: ApplyContext, serial: Int) {
        self.db = db
        self.context = context
        self.serial = serial
        self.now = Timestamp.string(context.now)
    }

    /// Runs one statement after writing the gathered rows; returns how many rows it changed.
    @discardableResult
    mutating func run(sql: String, arguments: SQLArguments = []) throws -> Int {
        try batches.flush(db)
        return try db.execute(sql, arguments)
    }

    /// The first column of the first row of a query, after writing the gathered rows.
    mutating func integer(_ sql: String, _ arguments: SQLArguments) throws -> Int64? {
        try batches.flush(db)
        return try db.integer(sql, arguments)
    }

    mutating func loadChainHead() throws {
        let last = try db.first("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") { row in
            (try row.integer(0), try row.text(1))
        }
        sequence = Int(last?.0 ?? 0)
        chainHead = last?.1 ?? AuditChain.genesis
    }

    /// Reads the ids of the users named by `keys` (those that exist), 500 keys a query.
    mutating func loadUserIDs(_ keys: Set<String>) throws {
        let sorted = keys.sorted()
        for start in stride(from: 0, to: sorted.count, by: 500) {
            let part = Array(sorted[start..<min(sorted.count, start + 500)])
            try db.forEachRow("SELECT email_key, id FROM users WHERE email_key IN (\(placeholders(part.count)))", part) { row in
                userIDs[try row.text(0)] = try row.integer(1)
            }
            missingUsers.formUnion(part.filter { userIDs[$0] == nil })
        }
    }

    /// Appends one audit record chained to the previous one; `userKey` ties it to a user's
    /// identity, so the user's history survives a rename.
    mutating func audit(action: AuditAction, type: EntityType, id: String, change: String, userKey: String?) throws {
        let hash = AuditChain.hash(previous: chainHead, serial: serial, at: now, actor: context.actor,
                                   commit: context.commit, action: action.rawValue, entityType: type.rawValue,
                                   entityID: id, change: change)
        sequence += 1
        let user = try userKey.flatMap { try existingUserID($0) }
        try batches.add(.audit, [sequence, serial, now, context.actor, context.commit, action.rawValue, type.rawValue, id, change,
                             chainHead, hash, user], db)
        chainHead = hash
        if batches.isFull { try batches.flush(db) }
    }

    /// Writes what is gathered, and records the chain's last hash in the same transaction, so a
    /// log cut short is detected too.
    mutating func finish() throws {
        try run(sql: "UPDATE meta SET value = ? WHERE key = 'audit_head'", arguments: [chainHead])
        if let nextUserID, db.isPostgres {
            // Ids are given here, not by the identity column: keep its sequence past them.
            _ = try db.integer("SELECT setval(pg_get_serial_sequence('users', 'id'), ?)", [nextUserID - 1])
        }
    }

    /// The id of the user `key` names; the store is inconsistent when there is none.
    mutating func userID(_ key: String) throws -> Int64 {
        guard let id = try existingUserID(key) else { throw StoreError.inconsistent(.userMissing(email: key)) }
        return id
    }

    /// The id of the user `key` names, nil when there is none.
    mutating func existingUserID(_ key: String) throws -> Int64? {
        if let id = userIDs[key] { return id }
        if missingUsers.contains(key) { return nil }
        guard let id = try integer("SELECT id FROM users WHERE email_key = ?", [key]) else {
            missingUsers.insert(key)
            return nil
        }
        userIDs[key] = id
        return id
    }

    /// An id for a user the plan creates.
    private mutating func newUserID(_ key: String) throws -> Int64 {
        let id = try nextUserID ?? (integer("SELECT COALESCE(MAX(id), 0) FROM users", []) ?? 0) + 1
        nextUserID = id + 1
        userIDs[key] = id
        missingUsers.remove(key)
        return id
    }

    mutating func apply(_ change: Change) throws {
        switch change.after ?? change.before {
        case .role(let role)?:
            try applyRole(change, role)
        case .user(let user)?:
            try applyUser(change, user)
        case .customer(let customer)?:
            try batches.add(.customers, [customer.id, customer.name, try userID(customer.owner), customer.active,
                                     Fingerprint.customer(customer), now, now], db)
        case .account(let account)?:
            try batches.add(.accounts, [account.id, account.customer, account.name, account.service, try userID(account.owner),
                                    account.active, Fingerprint.account(account), now, now], db)
        case .membership(let membership)?:
            try applyMembership(change, membership)
        case nil:
            try applyInvitation(change)
        }
    }

    private mutating func applyRole(_ change: Change, _ role: RoleState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let permissions = String(decoding: try encoder.encode(role.permissions), as: UTF8.self)
        try batches.add(.roles, [role.id, role.name, role.description, permissions, role.active, Fingerprint.role(role), now, now], db)
    }

    private mutating func applyUser(_ change: Change, _ user: UserState) throws {
        let changed: Int
        switch change.action {
        case .invite:
            try batches.add(.users, [try newUserID(user.key), user.key, user.email, user.name, UserStatus.invited.rawValue,
                                 Fingerprint.user(user), now, now, nil], db)
            changed = 1
        case .adopt:
            // Already on the platform: active, as if it had accepted (a later reactivation keeps it active).
            try batches.add(.users, [try newUserID(user.key), user.key, user.email, user.name, UserStatus.active.rawValue,
                                 Fingerprint.user(user), now, now, now], db)
            changed = 1
        case .rename:
            guard case .user(let old)? = change.before else { throw StoreError.inconsistent(.renameWithoutPreviousUser) }
            changed = try run(sql: "UPDATE users SET email_key = ?, email = ?, applied = ?, updated_at = ? WHERE email_key = ?",
                              arguments: [user.key, user.email, Fingerprint.user(user), now, old.key])
            if let id = userIDs.removeValue(forKey: old.key) { userIDs[user.key] = id }
            missingUsers.insert(old.key)
            missingUsers.remove(user.key)
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

    private mutating func applyMembership(_ change: Change, _ membership: MembershipState) throws {
        let user = try userID(membership.key.user)
        let scope = membership.key.scope
        switch change.action {
        case .grant:
            try batches.add(.memberships, [user, scope.kind.rawValue, scope.id, membership.roles.joined(separator: ","),
                                       membership.expires, Fingerprint.membership(membership), now], db)
        case .revoke:
            batches.endMembership(change.id, [user, scope.kind.rawValue, scope.id, now, change.reason ?? Change.removedFromFiles])
        default:
            batches.updateMembership(change.id, [user, scope.kind.rawValue, scope.id, membership.roles.joined(separator: ","),
                                                 membership.expires, Fingerprint.membership(membership)])
        }
    }

    private mutating func applyInvitation(_ change: Change) throws {
        switch change.action {
        case .reissueInvitation:
            guard let invitation = change.invitation, let replaces = invitation.replaces else {
                throw StoreError.inconsistent(.reissueNamesNoInvitation(change: change.id))
            }
            let count = try integer("""
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
    mutating func revokeInvitations(userKey: String) throws {
        let user = try userID(userKey)
        try run(sql: """
            UPDATE outbox SET message = NULL, token = NULL, status = 'revoked', last_error = 'invitation revoked'
            WHERE status IN ('pending', 'failed') AND invitation_id IN
                (SELECT id FROM invitations WHERE user_id = ? AND accepted_at IS NULL AND revoked_at IS NULL)
            """, arguments: [user])
        try run(sql: "UPDATE invitations SET revoked_at = ? WHERE user_id = ? AND accepted_at IS NULL AND revoked_at IS NULL",
                       arguments: [now, user])
    }

    /// Draws the random ids of the `count` invitations the plan issues up front, to hand them
    /// out in ascending order: the outbox is delivered in `(created_at, id)` order, and with
    /// ids in the order of the rows, delivery reads and updates the outbox page after page
    /// (and the id indexes are appended to) instead of touching a random page per message.
    mutating func drawInvitationIDs(_ count: Int) {
        invitationIDs = (0..<count).map { _ in hex(context.random.bytes(16)) }.sorted(by: >)
    }

    /// A new token (only its hash stored), the invitation row, and its message in the outbox;
    /// returns the invitation's id.
    @discardableResult
    mutating func issueInvitation(_ invitation: InvitationPlan, reissueCount: Int) throws -> String {
        let user = try userID(invitation.user)
        let id = invitationIDs.popLast() ?? hex(context.random.bytes(16))
        let token = base64URL(context.random.bytes(32))
        let expires = context.now.addingTimeInterval(TimeInterval(context.invitations.ttl))
        try batches.add(.invitations, [id, user, tokenHash(token), invitation.compactJSON, invitation.inviter, now,
                                   Timestamp.string(expires), expires.timeIntervalSince1970, reissueCount], db)
        // The mail is composed when it is sent; until then the outbox holds the token alone.
        try batches.add(.outbox, [OutboundInvitation.messageID(invitationID: id), id, invitation.email, token, now, "pending"], db)
        messages += 1
        return id
    }
}

extension Plan {
    /// Every user the changes name by key: the users themselves, owners, members, invitees and
    /// inviters (a key that names no user is harmless).
    var userKeys: Set<String> {
        var keys: Set<String> = []
        for change in changes {
            if let key = change.userKey { keys.insert(key) }
            for value in [change.before, change.after] {
                switch value {
                case .user(let user)?: keys.insert(user.key)
                case .customer(let customer)?: keys.insert(customer.owner)
                case .account(let account)?: keys.insert(account.owner)
                case .membership(let membership)?: keys.insert(membership.key.user)
                default: break
                }
            }
            if let invitation = change.invitation { keys.insert(invitation.user) }
        }
        return keys
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
