import Foundation

// MARK: Memberships

extension PlanWork {
    mutating func planMemberships() {
        // Most memberships are unchanged: find those that differ (on every core), then sort only them.
        let wanted = want.memberships
        let held = stored.memberships
        let slices = Parallel.split(wanted, into: Parallel.parts(for: wanted.count))
        let compared = Parallel.map(slices.count) { slice in
            var changed: [MembershipKey] = []
            var heldToo = 0
            for (key, membership) in slices[slice] {
                if let old = held[key] {
                    heldToo += 1
                    // The keys are equal: compare what they hold.
                    if old.roles == membership.roles && old.expires == membership.expires { continue }
                }
                changed.append(key)
            }
            return (changed: changed, heldToo: heldToo)
        }
        let changed = compared.flatMap(\.changed)
        let heldAndWanted = compared.reduce(0) { $0 + $1.heldToo }
        // When every stored membership is also in the files, none was removed from them.
        var removed: [MembershipKey] = []
        if heldAndWanted < held.count {
            for key in held.keys where wanted[key] == nil { removed.append(key) }
        }
        for key in changed.sorted() {
            guard let membership = want.memberships[key] else { continue }
            let entity = EntityKey.membership(key)
            let (customer, account) = grouping(key.scope)
            guard let old = stored.memberships[key] else {
                affectedUsers.insert(key.user)
                add(.grants, Change(action: .grant, type: .membership, id: membershipID(key), customer: customer,
                                    account: account, after: .membership(membership), drift: drifted(entity),
                                    source: source { $0.member(key) }))
                continue
            }
            if old.roles != membership.roles {
                affectedUsers.insert(key.user)
                add(.grants, Change(action: .changeRoles, type: .membership, id: membershipID(key), customer: customer,
                                    account: account, before: .membership(old), after: .membership(membership),
                                    risk: .medium, drift: drifted(entity), source: source { $0.member(key) }))
            } else if old.expires != membership.expires {
                add(.grants, Change(action: .update, type: .membership, id: membershipID(key), customer: customer,
                                    account: account, before: .membership(old), after: .membership(membership),
                                    drift: drifted(entity), source: source { $0.member(key) }))
            }
        }
        for key in removed.sorted() {
            guard let old = stored.memberships[key] else { continue }
            affectedUsers.insert(key.user)
            let (customer, account) = grouping(key.scope)
            let entity = EntityKey.membership(key)
            add(.revokes, Change(action: .revoke, type: .membership, id: membershipID(key), customer: customer,
                                 account: account, before: .membership(old), risk: .medium, drift: drifted(entity),
                                 source: source { $0.member(key) }, reason: revokeReason(key)))
        }
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
        return "removed from the files"
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
