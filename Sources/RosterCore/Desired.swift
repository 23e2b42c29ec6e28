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
        var roleLists: [[String]: [String]] = [:]
        for customer in directory.customers {
            let active = customer.status == .active
            state.customers[customer.id.value] = CustomerState(id: customer.id.value, name: customer.name,
                                                               owner: Syntax.emailKey(customer.owner.value), active: active)
            addMembers(customer.members, scope: ScopeRef(.customer, customer.id.value), scopeActive: active, today: today,
                       roleLists: &roleLists)
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
                       today: today, roleLists: &roleLists)
        }
        self.directory = directory
    }

    /// Where each entity and membership was declared.
    ///
    /// Indexed on request rather than with the state: a plan needs places only for what
    /// changes, and a plan with no changes needs none.
    public func sources() -> DeclarationSources {
        DeclarationSources(directory)
    }

    /// `roleLists` holds each distinct list of roles once: 300,000 memberships share a few
    /// dozen arrays instead of holding one each.
    private mutating func addMembers(_ members: [Member], scope: ScopeRef, scopeActive: Bool, today: Day,
                                     roleLists: inout [[String]: [String]]) {
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
            if let shared = roleLists[roles] { roles = shared } else { roleLists[roles] = roles }
            state.memberships[key] = MembershipState(key: key, roles: roles, expires: member.expires?.value.description)
        }
    }
}

/// Where the files declare each entity and membership.
///
/// Entities are found through an index of their ids; a membership through its scope, in the
/// scope's `members` list, so the 300,000 memberships of a large directory need no index of
/// their own. When something is declared twice (an error the validator reports), the last
/// declaration is the one found.
public struct DeclarationSources: Sendable {
    private let directory: Directory
    private var roles: [String: Int] = [:]
    private var users: [String: Int] = [:]
    /// Every declaration of each id, in file order.
    private var customers: [String: [Int]] = [:]
    private var accounts: [String: [Int]] = [:]

    init(_ directory: Directory) {
        self.directory = directory
        for (index, role) in directory.roles.enumerated() { roles[role.id.value] = index }
        users.reserveCapacity(directory.users.count)
        for (index, user) in directory.users.enumerated() { users[user.key] = index }
        for (index, customer) in directory.customers.enumerated() { customers[customer.id.value, default: []].append(index) }
        for (index, account) in directory.accounts.enumerated() { accounts[account.id.value, default: []].append(index) }
    }

    /// Where the role `id` is declared (its `id`).
    public func role(_ id: String) -> SourceLocation? {
        roles[id].map { directory.roles[$0].id.location }
    }

    /// Where the user with lower-cased email `key` is declared (its `email`).
    public func user(_ key: String) -> SourceLocation? {
        users[key].map { directory.users[$0].email.location }
    }

    /// Where the customer `id` is declared (its `id`).
    public func customer(_ id: String) -> SourceLocation? {
        customers[id]?.last.map { directory.customers[$0].id.location }
    }

    /// Where the account `id` is declared (its `id`).
    public func account(_ id: String) -> SourceLocation? {
        accounts[id]?.last.map { directory.accounts[$0].id.location }
    }

    /// The entry of a `members` list that declares `key`.
    public func member(_ key: MembershipKey) -> SourceLocation? {
        let isCustomer = key.scope.kind == .customer
        for index in ((isCustomer ? customers : accounts)[key.scope.id] ?? []).reversed() {
            let members = isCustomer ? directory.customers[index].members : directory.accounts[index].members
            if let member = members.last(where: { Syntax.emailKey($0.user.value) == key.user }) { return member.location }
        }
        return nil
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
