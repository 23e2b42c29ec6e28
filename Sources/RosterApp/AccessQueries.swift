import Foundation
import RosterCore
import RosterStore

/// Where an answer about access comes from.
public enum AccessSource: String, Codable, Sendable {
    /// The stored directory: what holds now.
    case store
    /// The files alone: what will hold once they are applied (as in a pull request).
    case files
}

/// `roster access EMAIL`: a user's effective permissions per scope, each with its provenance.
public struct AccessReport: Codable, Sendable, Hashable {
    public struct Grant: Codable, Sendable, Hashable {
        /// `role admin on account acme-live`, `owner of customer acme`.
        public var via: String
        public var permissions: [String]
        /// The day the membership began (from the store).
        public var since: String?
        /// Where the files declare it (`--files`).
        public var declaredAt: String?
    }
    public struct Scope: Codable, Sendable, Hashable {
        public var type: ScopeKind
        public var id: String
        public var permissions: [String]
        public var grants: [Grant]
    }
    public var source: AccessSource
    public var email: String
    public var name: String?
    public var status: UserStatus
    public var scopes: [Scope]
}

/// `roster who-can MODULE:ACTION`: who holds one permission on one scope, and how.
public struct WhoCanReport: Codable, Sendable, Hashable {
    public struct Holder: Codable, Sendable, Hashable {
        public var email: String
        public var name: String?
        public var status: UserStatus
        public var via: [AccessReport.Grant]
    }
    public var source: AccessSource
    public var permission: String
    public var scope: ScopeRef
    public var holders: [Holder]
}

/// The reading queries of SPEC §7 over the store (indexed reads of only what the answer needs)
/// or over the files, answered by Core's one resolver.
public struct AccessQueries {
    public let catalogue: Catalogue

    public init(catalogue: Catalogue) {
        self.catalogue = catalogue
    }

    /// A user's access from the store, optionally on one scope only.
    public func access(of email: String, in store: any StateStore, on scope: ScopeRef? = nil) throws(RosterError) -> AccessReport {
        guard let slice = try storeCall({ try store.accessSlice(user: email) }) else {
            let emails = try storeCall { try store.storedNames(.email) }
            throw .unknownUser(email: email, closest: Self.closest(to: email, in: emails))
        }
        if let scope { try requireStored(scope, in: store) }
        return report(email, in: slice.state, source: .store, since: slice.since, sources: nil, only: scope)
    }

    /// A user's access from the files' desired state.
    public func access(of email: String, in project: Project, on scope: ScopeRef? = nil) throws(RosterError) -> AccessReport {
        let desired = project.desired()
        guard desired.state.users[Syntax.emailKey(email)] != nil else {
            throw .unknownUser(email: email, closest: Self.closest(to: email, in: desired.state.users.values.map(\.email)))
        }
        if let scope { try requireDeclared(scope, in: desired.state) }
        return report(email, in: desired.state, source: .files, since: nil, sources: desired.sources(), only: scope)
    }

    /// Who holds `permission` on `scope`, from the store.
    public func whoCan(_ permission: String, on scope: ScopeRef, in store: any StateStore) throws(RosterError) -> WhoCanReport {
        let permission = try checked(permission)
        guard let slice = try storeCall({ try store.accessSlice(scope: scope) }) else {
            try requireStored(scope, in: store)
            throw .unknownScope(scope: scope, suggestion: nil)
        }
        return whoCan(permission, on: scope, in: slice.state, source: .store, since: slice.since, sources: nil)
    }

    /// Who will hold `permission` on `scope` once the files are applied.
    public func whoCan(_ permission: String, on scope: ScopeRef, in project: Project) throws(RosterError) -> WhoCanReport {
        let permission = try checked(permission)
        let desired = project.desired()
        try requireDeclared(scope, in: desired.state)
        return whoCan(permission, on: scope, in: desired.state, source: .files, since: nil, sources: desired.sources())
    }

    /// `module:action` from the catalogue; `*` is not a permission.
    public func checked(_ permission: String) throws(RosterError) -> String {
        let all = catalogue.modules.flatMap { module in module.actions.map { "\(module.name.value):\($0.value)" } }
        guard !permission.contains("*") else { throw .wildcardPermission(permission: permission) }
        guard all.contains(permission) else {
            throw .unknownPermission(permission: permission, suggestion: Suggestion.closest(to: permission, in: all))
        }
        return permission
    }

    // MARK: Building the answers

    private func report(_ email: String, in state: DirectoryState, source: AccessSource, since: [MembershipKey: String]?,
                        sources: DeclarationSources?, only: ScopeRef?) -> AccessReport {
        let key = Syntax.emailKey(email)
        let user = state.users[key] ?? UserState(email: email, name: nil, status: .inactive)
        let held = AccessResolver(catalogue: catalogue).access(of: key, in: state, sources: sources, since: since)
        return AccessReport(source: source, email: user.email, name: user.name, status: user.status,
                            scopes: held.filter { only == nil || $0.scope == only }.map { scope in
            AccessReport.Scope(type: scope.scope.kind, id: scope.scope.id, permissions: scope.permissions,
                               grants: scope.grants.map { Self.grant($0.grant, permissions: $0.permissions) })
        })
    }

    private func whoCan(_ permission: String, on scope: ScopeRef, in state: DirectoryState, source: AccessSource,
                        since: [MembershipKey: String]?, sources: DeclarationSources?) -> WhoCanReport {
        let holders = AccessResolver(catalogue: catalogue).holders(of: permission, on: scope, in: state,
                                                                   candidates: Self.candidates(on: scope, in: state),
                                                                   sources: sources, since: since)
        return WhoCanReport(source: source, permission: permission, scope: scope, holders: holders.map { holder in
            WhoCanReport.Holder(email: holder.user.email, name: holder.user.name, status: holder.user.status,
                                via: holder.grants.map { Self.grant($0, permissions: []) })
        })
    }

    /// The only users who can hold anything on `scope`: its owners and its members (a
    /// customer's members hold nothing on its accounts). The resolver still decides.
    private static func candidates(on scope: ScopeRef, in state: DirectoryState) -> Set<String> {
        var users = Set<String>()
        switch scope.kind {
        case .customer:
            if let customer = state.customers[scope.id] { users.insert(customer.owner) }
        case .account:
            if let account = state.accounts[scope.id] {
                users.insert(account.owner)
                if let customer = state.customers[account.customer] { users.insert(customer.owner) }
            }
        }
        for key in state.memberships.keys where key.scope == scope { users.insert(key.user) }
        return users
    }

    private static func grant(_ grant: AccessResolver.Grant, permissions: [String]) -> AccessReport.Grant {
        AccessReport.Grant(via: grant.via, permissions: permissions, since: grant.since, declaredAt: grant.source)
    }

    private func requireStored(_ scope: ScopeRef, in store: any StateStore) throws(RosterError) {
        let ids = try storeCall { try store.storedNames(scope.kind == .customer ? .customer : .account) }
        guard ids.contains(scope.id) else {
            throw .unknownScope(scope: scope, suggestion: Suggestion.closest(to: scope.id, in: ids))
        }
    }

    private func requireDeclared(_ scope: ScopeRef, in state: DirectoryState) throws(RosterError) {
        let ids = scope.kind == .customer ? Array(state.customers.keys) : Array(state.accounts.keys)
        guard ids.contains(scope.id) else {
            throw .unknownScope(scope: scope, suggestion: Suggestion.closest(to: scope.id, in: ids.sorted()))
        }
    }

    /// Up to three stored emails closest to a mistyped one, best first.
    static func closest(to email: String, in emails: [String]) -> [String] {
        var pool = emails
        var found: [String] = []
        while found.count < 3, let best = Suggestion.closest(to: email, in: pool) {
            found.append(best)
            pool.removeAll { $0 == best }
        }
        return found
    }
}
