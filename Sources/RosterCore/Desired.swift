/// What the files ask for, as plain state, and the documents that say where each piece was declared.
public struct DesiredDirectory: Sendable {
    public var state = DirectoryState()
    /// Old user key → new user key, from `previousEmails`.
    public var renames: [String: String] = [:]
    /// Memberships the files still list but whose `expires` day has begun: revoked, not granted.
    public var expired: [MembershipKey: String] = [:]
    /// The documents the state was built from, for `sources()`.
    private var directory = Directory()

    public init() {}

    /// Builds the desired state from validated files, as of `today`.
    ///
    /// Memberships of inactive users and of inactive scopes are left out (deactivation ends
    /// them), as are memberships whose `expires` day has begun. An account without an owner
    /// is owned by its customer's owner. `*` in a role expands to the catalogue's actions.
    public init(config: Config, directory: Directory, today: Day) {
        var catalogue: [String: [String]] = [:]
        for module in config.permissions.modules {
            catalogue[module.name.value] = module.actions.map(\.value)
        }
        for role in directory.roles {
            var permissions: [String: [String]] = [:]
            for grant in role.permissions {
                let actions = grant.actions.contains { $0.value == "*" }
                    ? catalogue[grant.module.value] ?? []
                    : grant.actions.map(\.value)
                permissions[grant.module.value, default: []].append(contentsOf: actions)
            }
            for (module, actions) in permissions {
                permissions[module] = Array(Set(actions)).sorted()
            }
            state.roles[role.id.value] = RoleState(id: role.id.value, name: role.name, description: role.description,
                                                   permissions: permissions)
        }
        state.users.reserveCapacity(directory.users.count)
        for user in directory.users {
            state.users[user.key] = UserState(email: user.email.value, name: user.name,
                                              status: user.status == .active ? .active : .inactive)
            for previous in user.previousEmails {
                renames[Syntax.emailKey(previous.value)] = user.key
            }
        }
        let members = directory.customers.reduce(0) { $0 + $1.members.count }
            + directory.accounts.reduce(0) { $0 + $1.members.count }
        state.memberships.reserveCapacity(members)
        for customer in directory.customers {
            let active = customer.status == .active
            state.customers[customer.id.value] = CustomerState(id: customer.id.value, name: customer.name,
                                                               owner: Syntax.emailKey(customer.owner.value), active: active)
            addMembers(customer.members, scope: ScopeRef(.customer, customer.id.value), scopeActive: active, today: today)
        }
        for account in directory.accounts {
            let active = account.status == .active
            let owner = account.owner.map { Syntax.emailKey($0.value) } ?? state.customers[account.customer.value]?.owner ?? ""
            state.accounts[account.id.value] = AccountState(id: account.id.value, customer: account.customer.value,
                                                            name: account.name, service: account.service,
                                                            owner: owner, active: active)
            // An account of an inactive customer grants nothing, as if the customer were removed.
            let customerActive = state.customers[account.customer.value]?.active ?? false
            addMembers(account.members, scope: ScopeRef(.account, account.id.value), scopeActive: active && customerActive,
                       today: today)
        }
        self.directory = directory
    }

    /// Where each entity and membership was declared.
    ///
    /// Built on request rather than with the state: a plan needs places only for what changes,
    /// and a plan with no changes needs none (on a large directory the index costs a third as
    /// much as the state).
    public func sources() -> DeclarationSources {
        var sources = DeclarationSources()
        for role in directory.roles {
            sources.locations[EntityKey.role(role.id.value)] = role.id.location
        }
        for user in directory.users {
            sources.locations[EntityKey.user(user.key)] = user.email.location
        }
        for customer in directory.customers {
            sources.locations[EntityKey.customer(customer.id.value)] = customer.id.location
            sources.addMembers(customer.members, scope: ScopeRef(.customer, customer.id.value))
        }
        for account in directory.accounts {
            sources.locations[EntityKey.account(account.id.value)] = account.id.location
            sources.addMembers(account.members, scope: ScopeRef(.account, account.id.value))
        }
        return sources
    }

    private mutating func addMembers(_ members: [Member], scope: ScopeRef, scopeActive: Bool, today: Day) {
        for member in members {
            let key = MembershipKey(user: Syntax.emailKey(member.user.value), scope: scope)
            if let expires = member.expires, expires.value <= today {
                expired[key] = expires.value.description
                continue
            }
            guard scopeActive, state.users[key.user]?.status == .active else { continue }
            var roles = member.roles.map(\.value)
            if roles.count > 1 {
                // Sorted and unique, without a Set per member.
                var unique: [String] = []
                for role in roles.sorted() where unique.last != role { unique.append(role) }
                roles = unique
            }
            state.memberships[key] = MembershipState(key: key, roles: roles, expires: member.expires?.value.description)
        }
    }
}

/// Where the files declare each entity and membership.
public struct DeclarationSources: Sendable {
    /// Where each role, user, customer and account was declared, by `EntityKey`.
    public var locations: [String: SourceLocation] = [:]
    /// Where each membership was declared (its entry in a `members` list).
    public var memberLocations: [MembershipKey: SourceLocation] = [:]

    public init() {}

    fileprivate mutating func addMembers(_ members: [Member], scope: ScopeRef) {
        for member in members {
            memberLocations[MembershipKey(user: Syntax.emailKey(member.user.value), scope: scope)] = member.location
        }
    }
}

/// String keys that name an entity in locations, drift sets and audit records.
public enum EntityKey {
    public static func role(_ id: String) -> String { "role:\(id)" }
    public static func user(_ key: String) -> String { "user:\(key)" }
    public static func customer(_ id: String) -> String { "customer:\(id)" }
    public static func account(_ id: String) -> String { "account:\(id)" }
    public static func membership(_ key: MembershipKey) -> String { "membership:\(key.user)@\(key.scope.kind.rawValue):\(key.scope.id)" }
}
