/// Effective permissions (SPEC §4.2): who holds which `module:action` on which scope, and why.
///
/// A customer's owner holds every permission on the customer and on all of its accounts; an
/// account's owner every permission on the account; a member the permissions of its roles on
/// the scope it is a member of. Inactive users, scopes and roles grant nothing.
public struct AccessResolver: Sendable {
    public let catalogue: Catalogue
    private let everything: [String]

    public init(catalogue: Catalogue) {
        self.catalogue = catalogue
        everything = catalogue.modules.flatMap { module in module.actions.map { "\(module.name.value):\($0.value)" } }.sorted()
    }

    /// A permission's provenance: `via`, the place in the files that declares it, and (from
    /// the store) the day a membership began.
    public struct Grant: Hashable, Sendable {
        public var via: String
        public var source: String?
        public var since: String?

        public init(via: String, source: String?, since: String? = nil) {
            self.via = via
            self.source = source
            self.since = since
        }
    }

    /// What a user holds on one scope, grouped by provenance.
    public struct ScopeAccess: Hashable, Sendable {
        public struct Holding: Hashable, Sendable {
            public var grant: Grant
            public var permissions: [String]
        }
        public var scope: ScopeRef
        public var grants: [Holding]

        /// Every permission held on the scope, sorted.
        public var permissions: [String] { Set(grants.flatMap(\.permissions)).sorted() }
    }

    /// What `user` holds in `state`, per scope and permission.
    public func effective(of user: String, in state: DirectoryState) -> [ScopeRef: [String: Grant]] {
        effective(of: user, in: state, index: Index(state, users: [user]), sources: nil)
    }

    /// Gains and losses from `before` to `after` for `users`, grouped by scope and provenance,
    /// sorted; gains name the place in the files (`sources`) that declares them.
    ///
    /// A first plan has every user gaining everything (370,000 rows for 100,000 users), so this
    /// works on permission bit sets, in parts on every core, and writes the rows in their sorted
    /// order (users by key, then scopes); rows with the same permissions share one array.
    public func delta(before: DirectoryState, after: DirectoryState, users: Set<String>,
                      sources: DeclarationSources?) -> [AccessChange] {
        guard !users.isEmpty else { return [] }
        let beforeIndex = Index(before, users: users)
        let afterIndex = Index(after, users: users)
        let universe = PermissionUniverse(everything, before, after)
        let sorted = users.sorted()
        let parts = Parallel.split(sorted.count, into: Parallel.parts(for: sorted.count))
        return Parallel.map(parts.count) { part in
            var names = PermissionNames(universe)
            var rows: [AccessChange] = []
            for user in sorted[parts[part]] {
                let old = heldSets(of: user, in: before, index: beforeIndex, universe: universe, sources: nil)
                let new = heldSets(of: user, in: after, index: afterIndex, universe: universe, sources: sources)
                let email = after.users[user]?.email ?? before.users[user]?.email ?? user
                for scope in Set(old.keys).union(new.keys).sorted() {
                    let was = old[scope] ?? HeldSet()
                    let now = new[scope] ?? HeldSet()
                    var changes: [(change: AccessChange.Direction, grant: Grant, bits: PermissionBits)] = []
                    func add(_ change: AccessChange.Direction, _ grant: Grant, _ bits: PermissionBits) {
                        guard !bits.isEmpty else { return }
                        if let same = changes.firstIndex(where: { $0.change == change && $0.grant == grant }) {
                            changes[same].bits.formUnion(bits)
                        } else {
                            changes.append((change, grant, bits))
                        }
                    }
                    for (grant, bits) in now.grants { add(.gain, grant, bits.subtracting(was.all)) }
                    for (grant, bits) in was.grants { add(.loss, grant, bits.subtracting(now.all)) }
                    let scopeRows = changes.map { change in
                        AccessChange(user: email, scope: scope, change: change.change, permissions: names[change.bits],
                                     via: change.grant.via, source: change.grant.source)
                    }
                    rows += scopeRows.count > 1 ? scopeRows.sorted() : scopeRows
                }
            }
            return rows
        }.joinedExactly()
    }

    /// What a user holds on one scope: each grant with the permissions it is the first to give.
    private struct HeldSet {
        var all = PermissionBits()
        var grants: [(Grant, PermissionBits)] = []

        mutating func add(_ grant: Grant, _ bits: PermissionBits) {
            let fresh = bits.subtracting(all)
            guard !fresh.isEmpty else { return }
            all.formUnion(fresh)
            grants.append((grant, fresh))
        }
    }

    /// `effective(of:in:)` as bit sets: the first grant of a permission on a scope is its grant.
    private func heldSets(of user: String, in state: DirectoryState, index: Index, universe: PermissionUniverse,
                          sources: DeclarationSources?) -> [ScopeRef: HeldSet] {
        var held: [ScopeRef: HeldSet] = [:]
        grants(of: user, in: state, index: index, sources: sources, since: nil) { permissions, scope, grant in
            held[scope, default: HeldSet()].add(grant, universe.bits(permissions))
        }
        return held
    }

    private func effective(of user: String, in state: DirectoryState, index: Index,
                           sources: DeclarationSources?) -> [ScopeRef: [String: Grant]] {
        var held: [ScopeRef: [String: Grant]] = [:]
        grants(of: user, in: state, index: index, sources: sources, since: nil) { permissions, scope, grant in
            for permission in permissions where held[scope]?[permission] == nil {
                held[scope, default: [:]][permission] = grant
            }
        }
        return held
    }

    /// Everything `user` holds in `state`, every provenance of it, by scope: each scope's
    /// grants sorted by provenance, each with its permissions sorted. `sources` names where the
    /// files declare a grant; `since` when the store's memberships began.
    public func access(of user: String, in state: DirectoryState, sources: DeclarationSources? = nil,
                       since: [MembershipKey: String]? = nil) -> [ScopeAccess] {
        access(of: user, in: state, index: Index(state, users: [user]), sources: sources, since: since)
    }

    /// `access(of:in:)` for every user of `state` (by email key), indexing the state once: what a
    /// long-running server keeps in memory so that a check is a lookup.
    public func accessOfEveryUser(in state: DirectoryState) -> [String: [ScopeAccess]] {
        let index = Index(state, users: Set(state.users.keys))
        var result: [String: [ScopeAccess]] = [:]
        result.reserveCapacity(state.users.count)
        for user in state.users.keys {
            result[user] = access(of: user, in: state, index: index, sources: nil, since: nil)
        }
        return result
    }

    private func access(of user: String, in state: DirectoryState, index: Index, sources: DeclarationSources?,
                        since: [MembershipKey: String]?) -> [ScopeAccess] {
        var held: [ScopeRef: [Grant: Set<String>]] = [:]
        grants(of: user, in: state, index: index, sources: sources, since: since) { permissions, scope, grant in
            held[scope, default: [:]][grant, default: []].formUnion(permissions)
        }
        return held.keys.sorted().map { scope in
            ScopeAccess(scope: scope, grants: (held[scope] ?? [:]).map { grant, permissions in
                ScopeAccess.Holding(grant: grant, permissions: permissions.sorted())
            }.sorted { ($0.grant.via, $0.grant.source ?? "") < ($1.grant.via, $1.grant.source ?? "") })
        }
    }

    /// Who holds `permission` (`module:action`) on `scope` in `state`, and through what: the
    /// users of `state` (or only `candidates`), sorted by email key, each with every grant of it.
    public func holders(of permission: String, on scope: ScopeRef, in state: DirectoryState,
                        candidates: Set<String>? = nil, sources: DeclarationSources? = nil,
                        since: [MembershipKey: String]? = nil) -> [(user: UserState, grants: [Grant])] {
        let users = candidates ?? Set(state.users.keys)
        let index = Index(state, users: users)
        var result: [(user: UserState, grants: [Grant])] = []
        for key in users.sorted() {
            guard let user = state.users[key] else { continue }
            var found: Set<Grant> = []
            grants(of: key, in: state, index: index, sources: sources, since: since) { permissions, on, grant in
                if on == scope && permissions.contains(permission) { found.insert(grant) }
            }
            if !found.isEmpty {
                result.append((user, found.sorted { ($0.via, $0.source ?? "") < ($1.via, $1.source ?? "") }))
            }
        }
        return result
    }

    /// The one definition of what a user holds (SPEC §4.2): hands each grant to `add`, owners
    /// before members, in a fixed order. Inactive users, scopes and roles grant nothing.
    private func grants(of user: String, in state: DirectoryState, index: Index, sources: DeclarationSources?,
                        since: [MembershipKey: String]?, _ add: ([String], ScopeRef, Grant) -> Void) {
        guard let person = state.users[user], person.status != .inactive else { return }
        for id in index.customersOwned[user] ?? [] where state.customers[id]?.active == true {
            let grant = Grant(via: "owner of customer \(id)", source: sources?.customer(id)?.description)
            add(everything, ScopeRef(.customer, id), grant)
            for account in index.accountsOf[id] ?? [] where state.accounts[account]?.active == true {
                add(everything, ScopeRef(.account, account), grant)
            }
        }
        for id in index.accountsOwned[user] ?? [] where isActive(account: id, in: state) {
            add(everything, ScopeRef(.account, id), Grant(via: "owner of account \(id)", source: sources?.account(id)?.description))
        }
        for membership in index.memberships[user] ?? [] {
            let scope = membership.key.scope
            let scopeActive = scope.kind == .customer ? state.customers[scope.id]?.active == true
                : isActive(account: scope.id, in: state)
            guard scopeActive else { continue }
            let source = sources?.member(membership.key)?.description
            for roleID in membership.roles {
                guard let role = state.roles[roleID], role.active else { continue }
                add(index.roleGrants[roleID] ?? role.grants, scope,
                    Grant(via: "role \(roleID) on \(scope)", source: source, since: since?[membership.key]))
            }
        }
    }

    /// An account grants access only while it and its customer are active.
    private func isActive(account id: String, in state: DirectoryState) -> Bool {
        guard let account = state.accounts[id], account.active else { return false }
        return state.customers[account.customer]?.active == true
    }

    /// Reverse lookups over one state, built once per plan.
    private struct Index {
        var customersOwned: [String: [String]] = [:]
        var accountsOwned: [String: [String]] = [:]
        var accountsOf: [String: [String]] = [:]
        /// The users' memberships, each user's sorted by key.
        var memberships: UserParts<[MembershipState]>
        /// Each role's `module:action` list, made once rather than per membership.
        var roleGrants: [String: [String]] = [:]

        /// Lookups for `users` only, so a small change does not index a whole directory's memberships.
        init(_ state: DirectoryState, users: Set<String>) {
            for role in state.roles.values { roleGrants[role.id] = role.grants }
            for customer in state.customers.values where users.contains(customer.owner) {
                customersOwned[customer.owner, default: []].append(customer.id)
            }
            for account in state.accounts.values {
                if users.contains(account.owner) { accountsOwned[account.owner, default: []].append(account.id) }
                accountsOf[account.customer, default: []].append(account.id)
            }
            for key in customersOwned.keys { customersOwned[key]?.sort() }
            for key in accountsOwned.keys { accountsOwned[key]?.sort() }
            for key in accountsOf.keys { accountsOf[key]?.sort() }
            memberships = UserParts(users: users.count) { includes in
                var found: [String: [MembershipState]] = [:]
                for membership in state.memberships.values
                where includes(membership.key.user) && users.contains(membership.key.user) {
                    found[membership.key.user, default: []].append(membership)
                }
                for key in found.keys { found[key]?.sort { $0.key < $1.key } }
                return found
            }
        }
    }
}

extension Array {
    /// The parts one after the other in one array of exactly their size (`flatMap` grows its
    /// result by doubling: for the 370,000 rows of a first plan's access delta, 34 MiB more at
    /// the peak).
    func joinedExactly<Row>() -> [Row] where Element == [Row] {
        var joined: [Row] = []
        joined.reserveCapacity(reduce(0) { $0 + $1.count })
        for part in self { joined += part }
        return joined
    }
}

/// The safety rails of SPEC §5.3.
public struct Rails {
    public let safety: SafetySettings

    /// Thresholds count only from this many affected, so small directories are not blocked by percentages.
    public static let minimumAffected = 5

    public init(safety: SafetySettings) {
        self.safety = safety
    }

    /// Every rail, blocked or not, in a fixed order.
    public func check(changes: [Change], snapshot: Snapshot) -> [RailCheck] {
        func count(_ action: ChangeAction, _ type: EntityType) -> Int {
            changes.lazy.filter { $0.action == action && $0.type == type }.count
        }
        let activeUsers = snapshot.state.users.values.lazy.filter { $0.status != .inactive }.count
        let deactivations = count(.deactivate, .user)
        let userLimit = safety.maxUserDeactivations.limit(of: activeUsers)
        let removals = count(.revoke, .membership)
        let removalLimit = safety.maxMembershipRemovals.limit(of: snapshot.state.memberships.count)
        let transfers = changes.lazy.filter { $0.action == .transferOwnership }.count
        let customerDeactivations = count(.deactivate, .customer)
        let moves = count(.move, .account)
        return [
            RailCheck(rail: .massDeactivation,
                      blocked: deactivations >= Self.minimumAffected && deactivations > userLimit,
                      count: deactivations, limit: userLimit,
                      message: "\(plural(deactivations, "user")) deactivated; safety.maxUserDeactivations "
                        + "(\(safety.maxUserDeactivations) of \(activeUsers) active) allows \(userLimit)"),
            RailCheck(rail: .massRemoval,
                      blocked: removals >= Self.minimumAffected && removals > removalLimit,
                      count: removals, limit: removalLimit,
                      message: "\(plural(removals, "membership")) revoked; safety.maxMembershipRemovals "
                        + "(\(safety.maxMembershipRemovals) of \(snapshot.state.memberships.count)) allows \(removalLimit)"),
            RailCheck(rail: .ownershipTransfer, blocked: transfers > 0, count: transfers, limit: nil,
                      message: "\(plural(transfers, "ownership transfer"))"),
            RailCheck(rail: .customerDeactivation, blocked: customerDeactivations > 0, count: customerDeactivations,
                      limit: nil, message: "\(plural(customerDeactivations, "customer")) deactivated"),
            RailCheck(rail: .accountMove, blocked: moves > 0, count: moves, limit: nil,
                      message: "\(plural(moves, "account")) moved to another customer"),
        ]
    }
}

/// "1 file", "2 files".
public func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// A set of permissions as bits: bit `i` is the `i`th permission of a `PermissionUniverse`.
struct PermissionBits: Hashable, Sendable {
    private(set) var words: [UInt64] = []

    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    mutating func insert(_ index: Int) {
        let word = index >> 6
        if words.count <= word { words += Array(repeating: 0, count: word + 1 - words.count) }
        words[word] |= 1 << UInt64(index & 63)
    }

    func contains(_ index: Int) -> Bool {
        let word = index >> 6
        return word < words.count && words[word] & (1 << UInt64(index & 63)) != 0
    }

    mutating func formUnion(_ other: PermissionBits) {
        if words.count < other.words.count { words += Array(repeating: 0, count: other.words.count - words.count) }
        for index in other.words.indices { words[index] |= other.words[index] }
        trim()
    }

    func subtracting(_ other: PermissionBits) -> PermissionBits {
        var result = self
        for index in result.words.indices where index < other.words.count { result.words[index] &= ~other.words[index] }
        result.trim()
        return result
    }

    /// Equal sets have equal words: no trailing zero words.
    private mutating func trim() {
        while words.last == 0 { words.removeLast() }
    }
}

/// Every permission of the catalogue and of the roles of two states, sorted, numbered.
struct PermissionUniverse: Sendable {
    let names: [String]
    private let positions: [String: Int]
    private let everything: [String]
    private let all: PermissionBits

    init(_ everything: [String], _ states: DirectoryState...) {
        var known = Set(everything)
        for state in states { for role in state.roles.values { known.formUnion(role.grants) } }
        names = known.sorted()
        positions = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        self.everything = everything
        var all = PermissionBits()
        for name in everything { if let position = positions[name] { all.insert(position) } }
        self.all = all
    }

    func bits(_ permissions: [String]) -> PermissionBits {
        // Owners hold the catalogue: the same array every time, compared by its buffer first.
        if permissions.count == everything.count, permissions == everything { return all }
        var bits = PermissionBits()
        for name in permissions { if let position = positions[name] { bits.insert(position) } }
        return bits
    }
}

/// The sorted names of permission sets, each made once and then shared.
struct PermissionNames {
    let universe: PermissionUniverse
    private var made: [PermissionBits: [String]] = [:]

    init(_ universe: PermissionUniverse) {
        self.universe = universe
    }

    subscript(bits: PermissionBits) -> [String] {
        mutating get {
            if let names = made[bits] { return names }
            let names = universe.names.indices.filter { bits.contains($0) }.map { universe.names[$0] }
            made[bits] = names
            return names
        }
    }
}
