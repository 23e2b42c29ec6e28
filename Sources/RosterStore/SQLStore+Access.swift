import Foundation
import RosterCore

/// Reading one user's or one scope's access with indexed queries, not the whole directory.
extension SQLStore {
    public func accessSlice(user email: String) throws -> AccessSlice? {
        try read { db in
            guard let user = try db.first("SELECT id, email, name, status FROM users WHERE email_key = ?",
                                          [Syntax.emailKey(email)], { row in
                (try row.integer(0), UserState(email: try row.text(1), name: try row.optionalText(2),
                                               status: UserStatus(rawValue: try row.text(3)) ?? .inactive))
            }) else { return nil }
            var slice = AccessSlice(state: DirectoryState(), since: [:])
            slice.state.users[user.1.key] = user.1
            try readRoles(db, into: &slice)
            try readMemberships(db, "m.user_id = ?", [user.0], into: &slice)
            let owned = try customers(db, "c.owner_id = ?", [user.0], into: &slice)
            try accounts(db, "a.owner_id = ?", [user.0], into: &slice)
            for chunk in chunks(owned) { try accounts(db, "a.customer_id IN (\(placeholders(chunk.count)))", chunk, into: &slice) }
            let scopes = slice.state.memberships.keys.map(\.scope)
            for chunk in chunks(scopes.filter { $0.kind == .account }.map(\.id)) {
                try accounts(db, "a.id IN (\(placeholders(chunk.count)))", chunk, into: &slice)
            }
            let customerIDs = Set(scopes.filter { $0.kind == .customer }.map(\.id)).union(slice.state.accounts.values.map(\.customer))
                .subtracting(slice.state.customers.keys)
            for chunk in chunks(Array(customerIDs).sorted()) {
                _ = try customers(db, "c.id IN (\(placeholders(chunk.count)))", chunk, into: &slice)
            }
            return slice
        }
    }

    public func accessSlice(scope: ScopeRef) throws -> AccessSlice? {
        try read { db in
            var slice = AccessSlice(state: DirectoryState(), since: [:])
            switch scope.kind {
            case .customer:
                guard try !customers(db, "c.id = ?", [scope.id], into: &slice).isEmpty else { return nil }
            case .account:
                try accounts(db, "a.id = ?", [scope.id], into: &slice)
                guard let account = slice.state.accounts[scope.id] else { return nil }
                _ = try customers(db, "c.id = ?", [account.customer], into: &slice)
            }
            try readRoles(db, into: &slice)
            try readMemberships(db, "m.scope_kind = ? AND m.scope_id = ?", [scope.kind.rawValue, scope.id], into: &slice)
            let owners = Set(slice.state.customers.values.map(\.owner) + slice.state.accounts.values.map(\.owner))
                .subtracting(slice.state.users.keys)
            for chunk in chunks(owners.sorted()) {
                let sql = "SELECT email, name, status FROM users WHERE email_key IN (\(placeholders(chunk.count)))"
                try db.forEachRow(sql, chunk) { row in
                    let user = UserState(email: try row.text(0), name: try row.optionalText(1),
                                         status: UserStatus(rawValue: try row.text(2)) ?? .inactive)
                    slice.state.users[user.key] = user
                }
            }
            return slice
        }
    }

    public func storedNames(_ kind: StoredName) throws -> [String] {
        let sql: String
        switch kind {
        case .email: sql = "SELECT email FROM users ORDER BY email_key"
        case .customer: sql = "SELECT id FROM customers ORDER BY id"
        case .account: sql = "SELECT id FROM accounts ORDER BY id"
        }
        return try read { db in try db.rows(sql) { try $0.text(0) } }
    }

    // MARK: Rows

    private func readRoles(_ db: any SQLSession, into slice: inout AccessSlice) throws {
        let decoder = JSONDecoder()
        try db.forEachRow("SELECT id, name, description, permissions, active FROM roles", []) { row in
            let permissions = (try? decoder.decode([String: [String]].self, from: Data(try row.text(3).utf8))) ?? [:]
            let role = RoleState(id: try row.text(0), name: try row.optionalText(1), description: try row.optionalText(2),
                                 permissions: permissions, active: try row.bool(4))
            slice.state.roles[role.id] = role
        }
    }

    /// Active memberships matching `condition`, with their users.
    private func readMemberships(_ db: any SQLSession, _ condition: String, _ arguments: SQLArguments,
                                 into slice: inout AccessSlice) throws {
        try db.forEachRow("""
            SELECT u.email, u.name, u.status, m.scope_kind, m.scope_id, m.roles, m.expires, m.started_at
            FROM memberships m JOIN users u ON u.id = m.user_id WHERE \(condition) AND m.ended_at IS NULL
            """, arguments) { row in
            let user = UserState(email: try row.text(0), name: try row.optionalText(1),
                                 status: UserStatus(rawValue: try row.text(2)) ?? .inactive)
            if slice.state.users[user.key] == nil { slice.state.users[user.key] = user }
            let key = MembershipKey(user: user.key, scope: ScopeRef(ScopeKind(rawValue: try row.text(3)) ?? .account,
                                                                    try row.text(4)))
            let roles = try row.text(5).split(separator: ",").map(String.init)
            slice.state.memberships[key] = MembershipState(key: key, roles: roles, expires: try row.optionalText(6))
            slice.since[key] = String(try row.text(7).prefix(10))
        }
    }

    /// Customers matching `condition`; returns their ids.
    private func customers(_ db: any SQLSession, _ condition: String, _ arguments: SQLArguments,
                           into slice: inout AccessSlice) throws -> [String] {
        var ids: [String] = []
        try db.forEachRow("""
            SELECT c.id, c.name, u.email_key, c.active FROM customers c JOIN users u ON u.id = c.owner_id WHERE \(condition)
            """, arguments) { row in
            let customer = CustomerState(id: try row.text(0), name: try row.optionalText(1), owner: try row.text(2),
                                         active: try row.bool(3))
            slice.state.customers[customer.id] = customer
            ids.append(customer.id)
        }
        return ids.sorted()
    }

    private func accounts(_ db: any SQLSession, _ condition: String, _ arguments: SQLArguments,
                          into slice: inout AccessSlice) throws {
        try db.forEachRow("""
            SELECT a.id, a.customer_id, a.name, a.service, u.email_key, a.active
            FROM accounts a JOIN users u ON u.id = a.owner_id WHERE \(condition)
            """, arguments) { row in
            let account = AccountState(id: try row.text(0), customer: try row.text(1), name: try row.optionalText(2),
                                       service: try row.optionalText(3), owner: try row.text(4), active: try row.bool(5))
            slice.state.accounts[account.id] = account
        }
    }
}

/// `values` in pieces small enough for one statement's parameters.
private func chunks(_ values: [String]) -> [[String]] {
    stride(from: 0, to: values.count, by: 500).map { Array(values[$0..<min(values.count, $0 + 500)]) }
}
