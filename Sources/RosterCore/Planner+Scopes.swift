import Foundation

// MARK: Customers and accounts

extension PlanWork {
    mutating func planCustomers() {
        let differences = Self.differences(declared: want.customers, stored: stored.customers)
        for id in differences.changed {
            guard let customer = want.customers[id] else { continue }
            let entity = EntityKey.customer(id)
            guard let old = stored.customers[id] else {
                if customer.active {
                    affectedUsers.insert(customer.owner)
                    add(.customers, Change(action: .create, type: .customer, id: id, customer: id, after: .customer(customer),
                                           source: source { $0.customer(id) }))
                }
                continue
            }
            scopeChanges(entity: entity, id: id, type: .customer, customer: id, account: nil,
                         old: (old.name, old.owner, old.active, nil), new: (customer.name, customer.owner, customer.active, nil),
                         before: .customer(old), after: .customer(customer))
        }
        for id in differences.removed {
            guard let old = stored.customers[id], old.active else { continue }
            var after = old
            after.active = false
            scopeDeactivated(ScopeRef(.customer, id))
            add(.deactivations, Change(action: .deactivate, type: .customer, id: id, customer: id, before: .customer(old),
                                       after: .customer(after), risk: .high, drift: drifted(EntityKey.customer(id)),
                                       reason: Change.removedFromFiles))
        }
    }

    mutating func planAccounts() {
        let differences = Self.differences(declared: want.accounts, stored: stored.accounts)
        for id in differences.changed {
            guard let account = want.accounts[id] else { continue }
            let entity = EntityKey.account(id)
            guard let old = stored.accounts[id] else {
                if account.active {
                    affectedUsers.insert(account.owner)
                    add(.accounts, Change(action: .create, type: .account, id: id, customer: account.customer, account: id,
                                          after: .account(account), source: source { $0.account(id) }))
                }
                continue
            }
            scopeChanges(entity: entity, id: id, type: .account, customer: account.customer, account: id,
                         old: (old.name, old.owner, old.active, old.customer),
                         new: (account.name, account.owner, account.active, account.customer),
                         before: .account(old), after: .account(account),
                         serviceChanged: old.service != account.service)
        }
        for id in differences.removed {
            guard let old = stored.accounts[id], old.active else { continue }
            var after = old
            after.active = false
            scopeDeactivated(ScopeRef(.account, id))
            add(.deactivations, Change(action: .deactivate, type: .account, id: id, customer: old.customer, account: id,
                                       before: .account(old), after: .account(after), risk: .high,
                                       drift: drifted(EntityKey.account(id)), reason: Change.removedFromFiles))
        }
    }

    /// The changes between a stored and a declared customer or account, one per concern.
    mutating func scopeChanges(entity: String, id: String, type: EntityType, customer: String, account: String?,
                               old: (name: String?, owner: String, active: Bool, parent: String?),
                               new: (name: String?, owner: String, active: Bool, parent: String?),
                               before: EntityValue, after: EntityValue, serviceChanged: Bool = false) {
        let scope = ScopeRef(type == .customer ? .customer : .account, id)
        // Its changes go in its own phase, but a deactivation goes with the others, last.
        let own: Phase = type == .customer ? .customers : .accounts
        let drift = drifted(entity)
        let src = source { type == .customer ? $0.customer(id) : $0.account(id) }
        func record(_ action: ChangeAction, _ phase: Phase, risk: Risk, reason: String? = nil) {
            add(phase, Change(action: action, type: type, id: id, customer: customer, account: account, before: before,
                              after: after, risk: risk, drift: drift, source: src, reason: reason))
        }
        if !old.active && new.active {
            scopeDeactivated(scope)
            record(.reactivate, own, risk: .low)
        }
        if old.name != new.name || serviceChanged {
            record(.update, own, risk: .low)
        }
        // Only an account has a parent to move from.
        if let from = old.parent, let to = new.parent, from != to {
            scopeDeactivated(scope)
            record(.move, .accounts, risk: .high, reason: "from customer \(from) to customer \(to)")
        }
        if old.owner != new.owner {
            affectedUsers.formUnion([old.owner, new.owner])
            if type == .customer { scopeDeactivated(scope) }
            record(.transferOwnership, own, risk: .high, reason: "from \(displayEmail(old.owner)) to \(displayEmail(new.owner))")
        }
        if old.active && !new.active {
            scopeDeactivated(scope)
            record(.deactivate, .deactivations, risk: .high, reason: "declared inactive")
        }
    }

    /// Everyone whose access a scope change can touch: owners and members, and a customer's accounts'.
    mutating func scopeDeactivated(_ scope: ScopeRef) {
        var scopes: Set<ScopeRef> = [scope]
        if scope.kind == .customer {
            for state in [stored, want] {
                if let owner = state.customers[scope.id]?.owner { affectedUsers.insert(owner) }
                for account in state.accounts.values where account.customer == scope.id {
                    scopes.insert(ScopeRef(.account, account.id))
                    affectedUsers.insert(account.owner)
                }
            }
        } else {
            // The account's owner, and the owners of the customer it belongs to (before and after a move).
            for state in [stored, want] {
                guard let account = state.accounts[scope.id] else { continue }
                affectedUsers.insert(account.owner)
                for other in [stored, want] {
                    if let owner = other.customers[account.customer]?.owner { affectedUsers.insert(owner) }
                }
            }
        }
        if membersByScope == nil {
            var index: [ScopeRef: [String]] = [:]
            for state in [stored, want] {
                for key in state.memberships.keys { index[key.scope, default: []].append(key.user) }
            }
            membersByScope = index
        }
        for scope in scopes { affectedUsers.formUnion(membersByScope?[scope] ?? []) }
    }
}
