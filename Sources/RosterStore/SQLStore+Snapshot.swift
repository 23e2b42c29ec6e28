import Foundation
import RosterCore

extension SQLStore {
    public func snapshot() throws -> Snapshot {
        try read { session in try Self.snapshot(session, backend: backend) }
    }

    static func storeInfo(_ session: any SQLSession, backend: String) throws -> StoreInfo {
        let lineage = try session.text("SELECT value FROM meta WHERE key = 'lineage'") ?? ""
        let serial = Int(try session.text("SELECT value FROM meta WHERE key = 'serial'") ?? "0") ?? 0
        return StoreInfo(backend: backend, lineage: lineage, serial: serial)
    }

    /// The stored directory in six bulk queries, with what changed outside roster marked as drift:
    /// each row keeps the fingerprint of what roster last wrote (`applied`). Users are read first
    /// and their keys kept by id, so owners, members and invitations need no join (one string per
    /// user, not one per row).
    static func snapshot(_ session: any SQLSession, backend: String) throws -> Snapshot {
        var snapshot = Snapshot(store: try storeInfo(session, backend: backend))
        var state = DirectoryState()
        var drifted: Set<String> = []
        let decoder = JSONDecoder()

        try session.forEachRow("SELECT id, name, description, permissions, active, applied FROM roles", []) { row in
            let permissions = (try? decoder.decode([String: [String]].self, from: Data(try row.text(3).utf8))) ?? [:]
            let role = RoleState(id: try row.text(0), name: try row.optionalText(1), description: try row.optionalText(2),
                                 permissions: permissions, active: try row.bool(4))
            state.roles[role.id] = role
            if try row.optionalInteger(5) != Fingerprint.role(role) { drifted.insert(EntityKey.role(role.id)) }
        }
        var userKeys = UserKeys()
        if let counts = try session.first("""
            SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL)
            """, [], { row in (Int(try row.integer(0)), Int(try row.integer(1))) }) {
            state.users.reserveCapacity(counts.0)
            state.memberships.reserveCapacity(counts.1)
        }
        try session.forEachRow("SELECT email, name, status, applied, accepted_at IS NOT NULL, id FROM users", []) { row in
            let user = UserState(email: try row.text(0), name: try row.optionalText(1),
                                 status: UserStatus(rawValue: try row.text(2)) ?? .inactive)
            state.users[user.key] = user
            userKeys.add(try row.integer(5), user.key)
            if try row.optionalInteger(3) != Fingerprint.user(user) { drifted.insert(EntityKey.user(user.key)) }
            if try row.bool(4) { snapshot.everAccepted.insert(user.key) }
        }
        /// The key of the user with this id (every id in the store's rows names a user).
        func userKey(_ id: Int64) throws -> String {
            guard let key = userKeys.key(of: id) else { throw StoreError.inconsistent(.noUserWithID(id)) }
            return key
        }
        try session.forEachRow("SELECT id, name, owner_id, active, applied FROM customers", []) { row in
            let customer = CustomerState(id: try row.text(0), name: try row.optionalText(1), owner: try userKey(try row.integer(2)),
                                         active: try row.bool(3))
            state.customers[customer.id] = customer
            if try row.optionalInteger(4) != Fingerprint.customer(customer) { drifted.insert(EntityKey.customer(customer.id)) }
        }
        try session.forEachRow("SELECT id, customer_id, name, service, owner_id, active, applied FROM accounts", []) { row in
            let account = AccountState(id: try row.text(0), customer: try row.text(1), name: try row.optionalText(2),
                                       service: try row.optionalText(3), owner: try userKey(try row.integer(4)),
                                       active: try row.bool(5))
            state.accounts[account.id] = account
            if try row.optionalInteger(6) != Fingerprint.account(account) { drifted.insert(EntityKey.account(account.id)) }
        }
        try session.forEachRow("""
            SELECT m.user_id, m.scope_kind, m.scope_id, m.roles, m.expires, m.applied, m.ended_at IS NOT NULL
            FROM memberships m
            WHERE m.ended_at IS NULL OR (m.end_reason = 'external' AND NOT EXISTS (
                SELECT 1 FROM memberships later WHERE later.user_id = m.user_id AND later.scope_kind = m.scope_kind
                    AND later.scope_id = m.scope_id AND later.id > m.id))
            """, []) { row in
            let scope = ScopeRef(ScopeKind(rawValue: try row.text(1)) ?? .account, try row.text(2))
            let key = MembershipKey(user: try userKey(try row.integer(0)), scope: scope)
            if try row.bool(6) {
                // Last ended by someone outside roster (a later row would be active, and win):
                // granting it again is reverting drift.
                drifted.insert(EntityKey.membership(key))
                return
            }
            // Split by bytes: role ids are ASCII, and splitting by Character costs 300,000 times.
            let roles = try row.text(3).utf8.split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
            let membership = MembershipState(key: key, roles: roles, expires: try row.optionalText(4))
            state.memberships[key] = membership
            if try row.optionalInteger(5) != Fingerprint.membership(membership) { drifted.insert(EntityKey.membership(key)) }
        }
        try session.forEachRow("""
            SELECT id, user_id, expires_epoch, reissue_count FROM invitations
            WHERE accepted_at IS NULL AND revoked_at IS NULL
            """, []) { row in
            let invitation = PendingInvitation(id: try row.text(0), user: try userKey(try row.integer(1)),
                                               expiresAt: Date(timeIntervalSince1970: try row.real(2)),
                                               reissueCount: Int(try row.integer(3)))
            snapshot.invitations[invitation.user] = invitation
        }
        snapshot.state = state
        snapshot.drifted = drifted
        return snapshot
    }
}

/// Each user's key by the row's id: an array indexed by id, as the ids a store hands out run
/// from 1 without gaps (a dictionary's hashing was a tenth of a no-change plan's snapshot);
/// ids far past the rows so far go in a dictionary.
private struct UserKeys {
    private var byIndex: [String?] = []
    private var others: [Int64: String] = [:]

    mutating func add(_ id: Int64, _ key: String) {
        if id >= 0, id < Int64(byIndex.count) + 1024 {
            let index = Int(id)
            if index >= byIndex.count { byIndex.append(contentsOf: repeatElement(nil, count: index - byIndex.count + 1)) }
            byIndex[index] = key
        } else {
            others[id] = key
        }
    }

    func key(of id: Int64) -> String? {
        id >= 0 && id < Int64(byIndex.count) ? byIndex[Int(id)] ?? others[id] : others[id]
    }
}
