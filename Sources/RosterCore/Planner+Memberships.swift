import Foundation

// MARK: Memberships

extension PlanWork {
    mutating func planMemberships() {
        // The keys are equal: compare only what the memberships hold.
        let differences = Self.differences(declared: want.memberships, stored: stored.memberships) { _, new, old in
            old.roles == new.roles && old.expires == new.expires
        }
        for key in differences.changed {
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
