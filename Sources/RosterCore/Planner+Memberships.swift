import Foundation

// MARK: Memberships

extension PlanWork {
    mutating func planMemberships() {
        // The keys are equal: compare only what the memberships hold.
        let differences = Self.differences(declared: want.memberships, stored: stored.memberships) { _, new, old in
            old.roles == new.roles && old.expires == new.expires
        }
        if !differences.changed.isEmpty {
            // A first plan grants every membership (300,000 at scale): the changes are made on
            // every core, a part of the keys each, and each part is let go of as it is added.
            let (work, sources, keys) = (self, sources(), differences.changed)
            let ranges = Parallel.split(keys.count, into: Parallel.parts(for: keys.count))
            var parts = Parallel.map(ranges.count) { part in
                var made: (changes: [Change], affected: [String]) = ([], [])
                made.changes.reserveCapacity(ranges[part].count)
                for key in keys[ranges[part]] {
                    guard let change = work.membershipChange(key, sources: sources) else { continue }
                    if change.action != .update { made.affected.append(key.user) }
                    made.changes.append(change)
                }
                return made
            }
            var grants: [Change] = []
            grants.reserveCapacity(parts.reduce(0) { $0 + $1.changes.count })
            for index in parts.indices {
                affectedUsers.formUnion(parts[index].affected)
                grants += parts[index].changes
                parts[index] = ([], [])
            }
            phases[.grants] = grants // the one step that grants
            // The parts were made and let go of on other threads, whose allocator arenas keep
            // that memory from the main thread's allocations until it is returned.
            Memory.returnFreedMemory()
        }
        for key in differences.removed {
            guard let old = stored.memberships[key] else { continue }
            affectedUsers.insert(key.user)
            let (customer, account) = grouping(key.scope)
            let entity = EntityKey.membership(key)
            add(.revokes, Change(action: .revoke, type: .membership, id: membershipID(key), customer: customer,
                                 account: account, before: .membership(old), risk: .medium, drift: drifted(entity),
                                 source: source { $0.member(key) }, reason: revokeReason(key)))
        }
    }

    /// The change a declared membership needs: a grant when it is not stored, else a change of
    /// roles or of expiry; nil when it is not declared or needs none.
    func membershipChange(_ key: MembershipKey, sources: DeclarationSources) -> Change? {
        guard let membership = want.memberships[key] else { return nil }
        let (customer, account) = grouping(key.scope)
        let (id, drift, source) = (membershipID(key), drifted(EntityKey.membership(key)), sources.member(key)?.description)
        guard let old = stored.memberships[key] else {
            return Change(action: .grant, type: .membership, id: id, customer: customer, account: account,
                          after: .membership(membership), drift: drift, source: source)
        }
        if old.roles != membership.roles {
            return Change(action: .changeRoles, type: .membership, id: id, customer: customer, account: account,
                          before: .membership(old), after: .membership(membership), risk: .medium, drift: drift, source: source)
        }
        guard old.expires != membership.expires else { return nil }
        return Change(action: .update, type: .membership, id: id, customer: customer, account: account,
                      before: .membership(old), after: .membership(membership), drift: drift, source: source)
    }

    func revokeReason(_ key: MembershipKey) -> String {
        if let day = desired.expired[key] { return "expired \(day)" }
        if want.users[key.user]?.status != .active { return want.users[key.user] == nil ? "user removed" : "user deactivated" }
        switch key.scope.kind {
        case .customer:
            if want.customers[key.scope.id]?.active != true { return "customer deactivated" }
        case .account:
            if want.accounts[key.scope.id]?.active != true { return "account deactivated" }
        }
        return Change.removedFromFiles
    }

    /// The customer and account a scope belongs to, for grouping.
    func grouping(_ scope: ScopeRef) -> (String?, String?) {
        switch scope.kind {
        case .customer: return (scope.id, nil)
        case .account: return (want.accounts[scope.id]?.customer ?? stored.accounts[scope.id]?.customer, scope.id)
        }
    }

    func membershipID(_ key: MembershipKey) -> String {
        "\(displayEmail(key.user))@\(key.scope.kind.rawValue):\(key.scope.id)"
    }
}
