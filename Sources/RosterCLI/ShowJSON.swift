import RosterApp
import RosterCore

/// `roster show --format json`: the stored directory, or one entity, as plain sorted values.
struct StoredDirectoryJSON: Encodable {
    struct Store: Encodable {
        var backend, lineage, url: String
        var serial: Int
    }
    struct Member: Encodable {
        var user: String
        var roles: [String]
        var expires: String?
    }
    struct Customer: Encodable {
        var id: String
        var name: String?
        var owner: String
        var active: Bool
        var accounts: [String]
        var members: [Member]
    }
    struct Account: Encodable {
        var id, customer: String
        var name, service: String?
        var owner: String
        var active: Bool
        var members: [Member]
    }
    struct Access: Encodable {
        var scope: ScopeRef
        var permissions: [String]
        var via: String
    }
    struct User: Encodable {
        var email: String
        var name: String?
        var status: UserStatus
        var access: [Access]?
    }

    var store: Store
    var roles: [RoleState]?
    var users: [User]?
    var customers: [Customer]?
    var accounts: [Account]?

    /// The whole directory without `entity`; else the one customer (with its accounts), account or user.
    init(snapshot: Snapshot, displayURL: String, entity: String?, catalogue: Catalogue) throws(RosterError) {
        let state = snapshot.state
        store = Store(backend: snapshot.store.backend, lineage: snapshot.store.lineage, url: displayURL,
                      serial: snapshot.store.serial)
        var membersByScope: [ScopeRef: [Member]] = [:]
        for membership in state.memberships.values.sorted(by: { $0.key < $1.key }) {
            membersByScope[membership.key.scope, default: []].append(
                Member(user: state.users[membership.key.user]?.email ?? membership.key.user, roles: membership.roles,
                       expires: membership.expires))
        }
        let accountsOf = Dictionary(grouping: state.accounts.values, by: \.customer)
        func email(_ key: String) -> String { state.users[key]?.email ?? key }
        func customer(_ c: CustomerState) -> Customer {
            Customer(id: c.id, name: c.name, owner: email(c.owner), active: c.active,
                     accounts: (accountsOf[c.id] ?? []).map(\.id).sorted(), members: membersByScope[ScopeRef(.customer, c.id)] ?? [])
        }
        func account(_ a: AccountState) -> Account {
            Account(id: a.id, customer: a.customer, name: a.name, service: a.service, owner: email(a.owner), active: a.active,
                    members: membersByScope[ScopeRef(.account, a.id)] ?? [])
        }
        guard let entity else {
            roles = state.roles.values.sorted { $0.id < $1.id }
            users = state.users.values.sorted { $0.key < $1.key }.map { User(email: $0.email, name: $0.name, status: $0.status) }
            customers = state.customers.values.sorted { $0.id < $1.id }.map(customer)
            accounts = state.accounts.values.sorted { $0.id < $1.id }.map(account)
            return
        }
        if let found = state.customers[entity] {
            customers = [customer(found)]
            accounts = (accountsOf[found.id] ?? []).sorted { $0.id < $1.id }.map(account)
        } else if let found = state.accounts[entity] {
            accounts = [account(found)]
        } else if let found = state.users[Syntax.emailKey(entity)] {
            let held = AccessResolver(catalogue: catalogue).effective(of: found.key, in: state)
            var access: [Access] = []
            for scope in held.keys.sorted() {
                var byVia: [String: [String]] = [:]
                for (permission, grant) in held[scope] ?? [:] { byVia[grant.via, default: []].append(permission) }
                for via in byVia.keys.sorted() {
                    access.append(Access(scope: scope, permissions: (byVia[via] ?? []).sorted(), via: via))
                }
            }
            users = [User(email: found.email, name: found.name, status: found.status, access: access)]
        } else {
            throw .notStored(entity: entity)
        }
    }
}
