import Foundation

// MARK: Roles

extension PlanWork {
    mutating func planRoles() {
        for id in want.roles.keys.sorted() {
            guard let role = want.roles[id] else { continue }
            let key = EntityKey.role(id)
            guard let old = stored.roles[id] else {
                add(.roles, Change(action: .create, type: .role, id: id, after: .role(role), source: source { $0.role(id) }))
                continue
            }
            if old != role {
                let holders = holders(of: id)
                affectedUsers.formUnion(holders)
                add(.roles, Change(action: old.active ? .update : .reactivate, type: .role, id: id, before: .role(old),
                                   after: .role(role), risk: old.permissions == role.permissions ? .low : .medium,
                                   drift: drifted(key), source: source { $0.role(id) }))
            }
        }
        for id in stored.roles.keys.sorted() where want.roles[id] == nil {
            guard let old = stored.roles[id], old.active else { continue }
            var after = old
            after.active = false
            affectedUsers.formUnion(holders(of: id))
            add(.deactivations, Change(action: .deactivate, type: .role, id: id, before: .role(old), after: .role(after),
                                       risk: .medium, reason: Change.removedFromFiles))
        }
    }

    /// Users who hold `role` in the store or in the files.
    func holders(of role: String) -> Set<String> {
        var users: Set<String> = []
        for membership in stored.memberships.values where membership.roles.contains(role) { users.insert(membership.key.user) }
        for membership in want.memberships.values where membership.roles.contains(role) { users.insert(membership.key.user) }
        return users
    }
}
