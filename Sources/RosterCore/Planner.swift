import Foundation

/// Computes the plan that makes the store match the files: pure, deterministic.
public struct Planner {
    public var config: Config
    public var now: Date

    public init(config: Config, now: Date) {
        self.config = config
        self.now = now
    }

    /// The ordered changes, access delta and rails from `snapshot` to `desired`.
    public func plan(desired: DesiredDirectory, snapshot: Snapshot, info: DesiredInfo) -> Plan {
        var work = PlanWork(planner: self, desired: desired, snapshot: snapshot)
        work.run()
        let changes = work.ordered()
        let access = work.accessDelta()
        return Plan(desired: info, store: snapshot.store, changes: changes, accessDelta: access,
                    rails: Rails(safety: config.safety).check(changes: changes, snapshot: snapshot),
                    warnings: work.warnings.sorted())
    }
}

/// The apply order: each phase only needs what earlier phases created.
private enum Phase: Int, CaseIterable {
    case roles, users, customers, accounts, grants, revokes, invitations, deactivations
}

private struct PlanWork {
    let planner: Planner
    let desired: DesiredDirectory
    let snapshot: Snapshot
    /// The stored state with renames applied, so later comparisons see one identity per user.
    var stored: DirectoryState
    var invitations: [String: PendingInvitation]
    var phases: [Phase: [Change]] = [:]
    var affectedUsers: Set<String> = []
    var warnings: [String] = []
    /// What each user owns or is a member of in the files; built on first use (invitations).
    var grantsByUser: [String: [ScopeRef: [String]]]?
    /// Members of each scope in the store or the files; built on first use (scope changes).
    var membersByScope: [ScopeRef: [String]]?
    /// Where the files declare things; built on first use (a change or an access delta).
    var declared: DeclarationSources?

    init(planner: Planner, desired: DesiredDirectory, snapshot: Snapshot) {
        self.planner = planner
        self.desired = desired
        self.snapshot = snapshot
        self.stored = snapshot.state
        self.invitations = snapshot.invitations
    }

    var want: DirectoryState { desired.state }

    func ordered() -> [Change] {
        Phase.allCases.flatMap { phases[$0] ?? [] }
    }

    mutating func add(_ phase: Phase, _ change: Change) {
        phases[phase, default: []].append(change)
    }

    mutating func sources() -> DeclarationSources {
        if let declared { return declared }
        let sources = desired.sources()
        declared = sources
        return sources
    }

    /// Where the files declare something, as `path:line:col`; `find` looks it up in `sources()`.
    mutating func source(_ find: (DeclarationSources) -> SourceLocation?) -> String? {
        find(sources())?.description
    }

    /// Who gains and loses which permissions; none when no user is affected.
    mutating func accessDelta() -> [AccessChange] {
        guard !affectedUsers.isEmpty else { return [] }
        return AccessResolver(catalogue: planner.config.permissions)
            .delta(before: stored, after: want, users: affectedUsers, sources: sources())
    }

    func drifted(_ key: String) -> Bool {
        snapshot.drifted.contains(key)
    }

    mutating func run() {
        planRoles()
        planRenames()
        planUsers()
        planCustomers()
        planAccounts()
        planMemberships()
    }

    // MARK: Roles

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
                                       risk: .medium, reason: "removed from the files"))
        }
    }

    /// Users who hold `role` in the store or in the files.
    func holders(of role: String) -> Set<String> {
        var users: Set<String> = []
        for membership in stored.memberships.values where membership.roles.contains(role) { users.insert(membership.key.user) }
        for membership in want.memberships.values where membership.roles.contains(role) { users.insert(membership.key.user) }
        return users
    }

    // MARK: Users

    /// `previousEmails` naming a stored user: carry the identity, memberships and history over.
    mutating func planRenames() {
        var renamed: [String: String] = [:]
        for (old, new) in desired.renames.sorted(by: { $0.key < $1.key }) {
            guard var user = stored.users[old], stored.users[new] == nil, let target = want.users[new] else { continue }
            let before = user
            user.key = new
            user.email = target.email
            stored.users[old] = nil
            stored.users[new] = user
            renamed[old] = new
            if var invitation = invitations.removeValue(forKey: old) {
                invitation.user = new
                invitations[new] = invitation
            }
            affectedUsers.insert(new)
            add(.users, Change(action: .rename, type: .user, id: target.email, before: .user(before), after: .user(user),
                               risk: .medium, source: source { $0.user(new) }, reason: "previousEmails lists \(before.email)"))
        }
        guard !renamed.isEmpty else { return }
        for (key, membership) in stored.memberships {
            guard let new = renamed[key.user] else { continue }
            var moved = membership
            moved.key.user = new
            stored.memberships[key] = nil
            stored.memberships[moved.key] = moved
        }
        for (id, customer) in stored.customers { if let new = renamed[customer.owner] { stored.customers[id]?.owner = new } }
        for (id, account) in stored.accounts { if let new = renamed[account.owner] { stored.accounts[id]?.owner = new } }
    }

    mutating func planUsers() {
        let settings = planner.config.invitations
        // Most users are unchanged: find those that may change (on every core), then sort only them.
        let (wanted, held, pending, now) = (want.users, stored.users, invitations, planner.now)
        let slices = Parallel.split(wanted, into: Parallel.parts(for: wanted.count))
        let found = Parallel.map(slices.count) { slice in
            var candidates: [String] = []
            var heldToo = 0
            for (key, user) in slices[slice] {
                let old = held[key]
                if old != nil { heldToo += 1 }
                if !Self.isUnchanged(key, user, old: old, invitations: pending, now: now) { candidates.append(key) }
            }
            return (candidates: candidates, heldToo: heldToo)
        }
        let storedAndWanted = found.reduce(0) { $0 + $1.heldToo }
        for key in found.flatMap(\.candidates).sorted() {
            guard let user = want.users[key] else { continue }
            let entity = EntityKey.user(key)
            guard let old = stored.users[key] else {
                if user.status == .active {
                    affectedUsers.insert(key)
                    var invited = user
                    invited.status = .invited
                    add(.users, Change(action: .invite, type: .user, id: user.email, after: .user(invited),
                                       source: source { $0.user(key) }, invitation: invitationPlan(for: key)))
                }
                continue
            }
            switch (old.status, user.status) {
            case (.inactive, .active):
                affectedUsers.insert(key)
                var after = user
                after.status = snapshot.everAccepted.contains(key) ? .active : .invited
                let invitation = after.status == .invited ? invitationPlan(for: key) : nil
                add(.users, Change(action: .reactivate, type: .user, id: user.email, before: .user(old), after: .user(after),
                                   drift: drifted(entity), source: source { $0.user(key) },
                                   reason: invitation != nil ? "never accepted: invited anew" : nil, invitation: invitation))
            case (.invited, .active), (.active, .active):
                if old.email != user.email || old.name != user.name {
                    var after = user
                    after.status = old.status
                    add(.users, Change(action: .update, type: .user, id: user.email, before: .user(old), after: .user(after),
                                       drift: drifted(entity), source: source { $0.user(key) }))
                }
                if old.status == .invited, let pending = invitations[key], pending.expiresAt <= planner.now {
                    if settings.reissueExpired && pending.reissueCount < settings.maxReissues {
                        add(.invitations, Change(action: .reissueInvitation, type: .invitation, id: user.email,
                                                 source: source { $0.user(key) },
                                                 reason: "expired; re-issue \(pending.reissueCount + 1) of \(settings.maxReissues)",
                                                 invitation: invitationPlan(for: key, replaces: pending.id)))
                    } else if settings.reissueExpired {
                        warnings.append("invitation of '\(user.email)' expired and was re-issued \(pending.reissueCount) times "
                                        + "(maxReissues \(settings.maxReissues)); run 'roster invitations resend \(user.email)' to send a new one")
                    }
                }
            case (.active, .inactive), (.invited, .inactive):
                deactivate(old, reason: "declared inactive", source: source { $0.user(key) })
            case (.inactive, .inactive), (_, .invited):
                break
            }
        }
        // When every stored user is also in the files, none was removed from them.
        guard storedAndWanted < stored.users.count else { return }
        var removed: [String] = []
        for (key, old) in stored.users where old.status != .inactive && want.users[key] == nil { removed.append(key) }
        for key in removed.sorted() {
            guard let old = stored.users[key] else { continue }
            deactivate(old, reason: "removed from the files", source: nil)
        }
    }

    /// True when `planUsers` has nothing to do for a declared user: stored with the same email
    /// and name, and active in both or inactive in both, with no expired invitation to re-issue.
    /// Keep in step with the cases of `planUsers`.
    static func isUnchanged(_ key: String, _ user: UserState, old: UserState?, invitations: [String: PendingInvitation],
                            now: Date) -> Bool {
        guard let old, old.email == user.email, old.name == user.name else { return false }
        switch (old.status, user.status) {
        case (.inactive, .inactive), (.active, .active):
            return true
        case (.invited, .active):
            guard let invitation = invitations[key] else { return true }
            return invitation.expiresAt > now
        default:
            return false
        }
    }

    /// The keys whose declared value is missing from the store or differs (found on every
    /// core), sorted: most are unchanged, so only the others are sorted.
    func changedKeys<Value: Equatable & Sendable>(_ wanted: [String: Value], stored held: [String: Value]) -> [String] {
        let slices = Parallel.split(wanted, into: Parallel.parts(for: wanted.count))
        return Parallel.map(slices.count) { slice in
            slices[slice].compactMap { key, value in held[key] == value ? nil : key }
        }.flatMap { $0 }.sorted()
    }

    mutating func deactivate(_ user: UserState, reason: String, source: String?) {
        affectedUsers.insert(user.key)
        var after = user
        after.status = .inactive
        if let pending = invitations[user.key] {
            add(.invitations, Change(action: .revokeInvitation, type: .invitation, id: user.email, risk: .medium,
                                     reason: "user deactivated; invitation \(pending.id)"))
        }
        add(.deactivations, Change(action: .deactivate, type: .user, id: user.email, before: .user(user), after: .user(after),
                                   risk: .high, drift: drifted(EntityKey.user(user.key)), source: source, reason: reason))
    }

    /// The invitation a user would get now: scopes and roles from the files, inviter by SPEC §6.
    mutating func invitationPlan(for key: String, replaces: String? = nil) -> InvitationPlan {
        if grantsByUser == nil {
            var index: [String: [ScopeRef: [String]]] = [:]
            for customer in want.customers.values where customer.active {
                index[customer.owner, default: [:]][ScopeRef(.customer, customer.id)] = ["owner"]
            }
            for account in want.accounts.values where account.active {
                index[account.owner, default: [:]][ScopeRef(.account, account.id)] = ["owner"]
            }
            for membership in want.memberships.values {
                index[membership.key.user, default: [:]][membership.key.scope, default: []].append(contentsOf: membership.roles)
            }
            grantsByUser = index
        }
        let grants = grantsByUser?[key] ?? [:]
        // Customers sort before accounts, then by id: the first scope someone else owns names the inviter.
        let scopes = grants.keys.sorted()
        var inviter: String?
        for scope in scopes {
            let owner = scope.kind == .customer ? want.customers[scope.id]?.owner : want.accounts[scope.id]?.owner
            if let owner, owner != key {
                inviter = want.users[owner]?.email ?? owner
                break
            }
        }
        return InvitationPlan(user: key, email: want.users[key]?.email ?? key, inviter: inviter,
                              grants: scopes.map { InvitationGrant(scope: $0, roles: Array(Set(grants[$0] ?? [])).sorted()) },
                              replaces: replaces)
    }

    // MARK: Customers and accounts

    mutating func planCustomers() {
        for id in changedKeys(want.customers, stored: stored.customers) {
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
        for id in stored.customers.keys.filter({ want.customers[$0] == nil }).sorted() {
            guard let old = stored.customers[id], old.active else { continue }
            var after = old
            after.active = false
            scopeDeactivated(ScopeRef(.customer, id))
            add(.deactivations, Change(action: .deactivate, type: .customer, id: id, customer: id, before: .customer(old),
                                       after: .customer(after), risk: .high, drift: drifted(EntityKey.customer(id)),
                                       reason: "removed from the files"))
        }
    }

    mutating func planAccounts() {
        for id in changedKeys(want.accounts, stored: stored.accounts) {
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
        for id in stored.accounts.keys.filter({ want.accounts[$0] == nil }).sorted() {
            guard let old = stored.accounts[id], old.active else { continue }
            var after = old
            after.active = false
            scopeDeactivated(ScopeRef(.account, id))
            add(.deactivations, Change(action: .deactivate, type: .account, id: id, customer: old.customer, account: id,
                                       before: .account(old), after: .account(after), risk: .high,
                                       drift: drifted(EntityKey.account(id)), reason: "removed from the files"))
        }
    }

    /// The changes between a stored and a declared customer or account, one per concern.
    mutating func scopeChanges(entity: String, id: String, type: EntityType, customer: String, account: String?,
                               old: (name: String?, owner: String, active: Bool, parent: String?),
                               new: (name: String?, owner: String, active: Bool, parent: String?),
                               before: EntityValue, after: EntityValue, serviceChanged: Bool = false) {
        let scope = ScopeRef(type == .customer ? .customer : .account, id)
        let drift = drifted(entity)
        let src = source { type == .customer ? $0.customer(id) : $0.account(id) }
        func change(_ action: ChangeAction, _ phase: Phase, risk: Risk, reason: String? = nil) -> Change {
            Change(action: action, type: type, id: id, customer: customer, account: account, before: before, after: after,
                   risk: risk, drift: drift, source: src, reason: reason)
        }
        if !old.active && new.active {
            scopeDeactivated(scope)
            add(type == .customer ? .customers : .accounts, change(.reactivate, .customers, risk: .low))
        }
        if old.name != new.name || serviceChanged {
            add(type == .customer ? .customers : .accounts, change(.update, .customers, risk: .low))
        }
        if let from = old.parent, let to = new.parent, from != to {
            scopeDeactivated(scope)
            add(.accounts, change(.move, .accounts, risk: .high, reason: "from customer \(from) to customer \(to)"))
        }
        if old.owner != new.owner {
            affectedUsers.formUnion([old.owner, new.owner])
            if type == .customer { scopeDeactivated(scope) }
            add(type == .customer ? .customers : .accounts,
                change(.transferOwnership, .customers, risk: .high,
                       reason: "from \(displayEmail(old.owner)) to \(displayEmail(new.owner))"))
        }
        if old.active && !new.active {
            scopeDeactivated(scope)
            add(.deactivations, change(.deactivate, .deactivations, risk: .high, reason: "declared inactive"))
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

    // MARK: Memberships

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

    /// A user key as the files (or else the store) write the email.
    func displayEmail(_ key: String) -> String {
        want.users[key]?.email ?? stored.users[key]?.email ?? key
    }

    func membershipID(_ key: MembershipKey) -> String {
        "\(displayEmail(key.user))@\(key.scope.kind.rawValue):\(key.scope.id)"
    }
}
