import ArgumentParser
import Foundation
import RosterCore
import RosterApp
import RosterStore

/// `roster show [ENTITY]`: the stored directory, or one customer, account or user.
struct ShowCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the stored directory, or one customer, account or user (by id or email).",
        discussion: """
        Examples:
          roster show
          roster show northwind-media
          roster show dan@partner.example
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>
    @Argument(help: "A customer id, an account id or a user's email.") var entity: String?

    func run(in environment: Environment) throws -> ExitStatus {
        let (settings, store) = try options.settingsAndStore(environment)
        let config = settings.config
        let snapshot = try storeCall { try store.snapshot() }
        if options.output == .json {
            let shown = try StoredDirectoryJSON(snapshot: snapshot, displayURL: store.displayURL, entity: entity,
                                                catalogue: config.permissions)
            environment.stdout.write(try CanonicalJSON.pretty(shown))
            return .success
        }
        let state = snapshot.state
        var out = ""
        guard let entity else {
            let users = state.users.values
            out += "Store \(store.displayURL): lineage \(snapshot.store.lineage), serial \(snapshot.store.serial)\n"
            out += "\(plural(state.roles.values.filter(\.active).count, "role")), "
                + "\(plural(users.filter { $0.status == .active }.count, "active user")), "
                + "\(users.filter { $0.status == .invited }.count) invited, \(users.filter { $0.status == .inactive }.count) inactive, "
                + "\(plural(state.customers.values.filter(\.active).count, "customer")), "
                + "\(plural(state.accounts.values.filter(\.active).count, "account")), "
                + "\(plural(state.memberships.count, "membership"))\n"
            for customer in state.customers.values.sorted(by: { $0.id < $1.id }) {
                out += "customer \(customer.id)\(customer.active ? "" : " (inactive)")  owner \(email(customer.owner, state))\n"
                for account in state.accounts.values.filter({ $0.customer == customer.id }).sorted(by: { $0.id < $1.id }) {
                    out += "  account \(account.id)\(account.active ? "" : " (inactive)")  owner \(email(account.owner, state))\n"
                }
            }
            environment.stdout.write(out)
            return .success
        }
        let members = { (scope: ScopeRef) -> String in
            state.memberships.values.filter { $0.key.scope == scope }.sorted { $0.key < $1.key }
                .map { "  member \(email($0.key.user, state)): \($0.roles.joined(separator: ", "))"
                    + ($0.expires.map { " until \($0)" } ?? "") + "\n" }.joined()
        }
        if let customer = state.customers[entity] {
            out += "customer \(customer.id)\(customer.active ? "" : " (inactive)")\n  name \(customer.name ?? "-")\n"
                + "  owner \(email(customer.owner, state))\n" + members(ScopeRef(.customer, customer.id))
            for account in state.accounts.values.filter({ $0.customer == customer.id }).sorted(by: { $0.id < $1.id }) {
                out += "  account \(account.id)\(account.active ? "" : " (inactive)")\n"
            }
        } else if let account = state.accounts[entity] {
            out += "account \(account.id)\(account.active ? "" : " (inactive)")\n  customer \(account.customer)\n"
                + "  name \(account.name ?? "-")\n  service \(account.service ?? "-")\n  owner \(email(account.owner, state))\n"
                + members(ScopeRef(.account, account.id))
        } else if let user = state.users[entity.lowercased()] {
            out += "user \(user.email)  \(user.status.rawValue)\n  name \(user.name ?? "-")\n"
            let access = AccessResolver(catalogue: config.permissions).effective(of: user.key, in: state)
            for scope in access.keys.sorted() {
                let grants = access[scope] ?? [:]
                var byVia: [String: [String]] = [:]
                for (permission, grant) in grants { byVia[grant.via, default: []].append(permission) }
                for via in byVia.keys.sorted() {
                    out += "  \(scope): \((byVia[via] ?? []).sorted().joined(separator: ", "))  via \(via)\n"
                }
            }
        } else {
            throw RosterError.notStored(entity: entity)
        }
        environment.stdout.write(out)
        return .success
    }

    private func email(_ key: String, _ state: DirectoryState) -> String {
        state.users[key]?.email ?? key
    }
}
