import Foundation
import RosterCore

/// The stored directory as YAML files (SPEC §7 `roster export`): `roles.yaml`, `users.yaml`
/// and `customers/ID.yaml` with each customer's accounts. Every list is sorted, so the same
/// store gives the same bytes; inactive users, customers and accounts are kept with
/// `status: inactive`, ended memberships and deactivated roles are left out. Pointing
/// `sources` at the folder, `roster plan` reports no changes. A value; `write` does the I/O.
public struct DirectoryExport: Sendable {
    /// Paths relative to the export folder, and their contents, in path order.
    public var files: [(path: String, text: String)]

    public init(snapshot: Snapshot, storeURL: String, limits: LimitSettings) throws(RosterError) {
        let state = snapshot.state
        let header = "# Exported by roster \(rosterVersion) from \(storeURL) (lineage \(snapshot.store.lineage), "
            + "serial \(snapshot.store.serial)).\n# Point roster.yaml's sources at this folder: 'roster plan' then shows no changes.\n"
        func email(_ key: String) -> String { state.users[key]?.email ?? key }
        var membersByScope: [ScopeRef: [MembershipState]] = [:]
        for membership in state.memberships.values { membersByScope[membership.key.scope, default: []].append(membership) }
        func members(_ scope: ScopeRef) -> [String] {
            let sorted = (membersByScope[scope] ?? []).sorted { $0.key.user < $1.key.user }
            guard !sorted.isEmpty else { return [] }
            return ["members:"] + sorted.flatMap { member -> [String] in
                ["  - user: " + YAMLText.scalar(email(member.key.user)),
                 "    roles: " + YAMLText.flowList(member.roles)] + (member.expires.map { ["    expires: \($0)"] } ?? [])
            }
        }
        func optional(_ key: String, _ value: String?) -> [String] {
            value.map { ["\(key): " + YAMLText.scalar($0)] } ?? []
        }

        var roles: [String] = []
        for role in state.roles.values.filter(\.active).sorted(by: { $0.id < $1.id }) {
            var lines = ["kind: Role", "id: " + YAMLText.scalar(role.id)] + optional("name", role.name)
                + optional("description", role.description)
            lines.append(role.permissions.isEmpty ? "permissions: {}" : "permissions:")
            for module in role.permissions.keys.sorted() {
                lines.append("  \(YAMLText.scalar(module)): " + YAMLText.flowList(role.permissions[module] ?? []))
            }
            roles.append(lines.joined(separator: "\n") + "\n")
        }
        var users: [String] = []
        for user in state.users.values.sorted(by: { $0.key < $1.key }) {
            users.append((["kind: User", "email: " + YAMLText.scalar(user.email)] + optional("name", user.name)
                + (user.status == .inactive ? ["status: inactive"] : [])).joined(separator: "\n") + "\n")
        }
        var files: [(path: String, text: String)] = [("roles.yaml", header + roles.joined(separator: "---\n")),
                                                     ("users.yaml", header + users.joined(separator: "---\n"))]
        let accountsOf = Dictionary(grouping: state.accounts.values, by: \.customer)
        for customer in state.customers.values.sorted(by: { $0.id < $1.id }) {
            guard Syntax.isSlug(customer.id) else { throw .unsafeExportName(id: customer.id) }
            let accounts = (accountsOf[customer.id] ?? []).sorted { $0.id < $1.id }
            var documents = [(["kind: Customer", "id: " + YAMLText.scalar(customer.id)] + optional("name", customer.name)
                + ["owner: " + YAMLText.scalar(email(customer.owner))] + (customer.active ? [] : ["status: inactive"])
                + (accounts.count > limits.accountsPerCustomer ? ["limits: {accounts: \(accounts.count)}"] : [])
                + members(ScopeRef(.customer, customer.id))).joined(separator: "\n") + "\n"]
            for account in accounts {
                let memberCount = membersByScope[ScopeRef(.account, account.id)]?.count ?? 0
                documents.append((["kind: Account", "id: " + YAMLText.scalar(account.id), "customer: " + YAMLText.scalar(customer.id)]
                    + optional("name", account.name) + optional("service", account.service)
                    + (account.owner == customer.owner ? [] : ["owner: " + YAMLText.scalar(email(account.owner))])
                    + (account.active ? [] : ["status: inactive"])
                    + (memberCount > limits.membersPerAccount ? ["limits: {members: \(memberCount)}"] : [])
                    + members(ScopeRef(.account, account.id))).joined(separator: "\n") + "\n")
            }
            files.append(("customers/\(customer.id).yaml", header + documents.joined(separator: "---\n")))
        }
        self.files = files
    }

    /// The files roster writes into an export folder; `--force` replaces these and nothing else.
    public static func isOwnFile(_ relative: String) -> Bool {
        relative == "roles.yaml" || relative == "users.yaml"
            || (relative.hasPrefix("customers/") && relative.hasSuffix(".yaml") && !relative.dropFirst(10).contains("/"))
    }

    /// Writes the files below `folder`, which must be empty unless `force` (then roster's own
    /// earlier files are replaced and anything else is left alone). Never writes outside it:
    /// the names are slugs, and a `customers` that is a link elsewhere is refused.
    public func write(to folder: String, force: Bool) throws(RosterError) {
        let manager = FileManager.default
        do {
            let existing = (try? manager.contentsOfDirectory(atPath: folder)) ?? []
            if !existing.isEmpty && !force { throw RosterError.exportFolderNotEmpty(path: folder) }
            try manager.createDirectory(atPath: folder + "/customers", withIntermediateDirectories: true)
            let customers = URL(fileURLWithPath: folder + "/customers").resolvingSymlinksInPath().path
            let root = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
            guard customers == root + "/customers" else {
                throw RosterError.cannotWrite(what: "the export", path: folder + "/customers",
                                              reason: "it is a link out of the folder")
            }
            if force {
                for name in ["roles.yaml", "users.yaml"] where existing.contains(name) { try manager.removeItem(atPath: folder + "/" + name) }
                for name in (try manager.contentsOfDirectory(atPath: customers)) where Self.isOwnFile("customers/" + name) {
                    try manager.removeItem(atPath: customers + "/" + name)
                }
            }
            // Plain writes: the folder was empty or held only an earlier export's files, which
            // were removed; an atomic write's temporary file and rename per file would be
            // thousands of needless syscalls for a large directory.
            for file in files {
                guard manager.createFile(atPath: folder + "/" + file.path, contents: Data(file.text.utf8)) else {
                    throw RosterError.cannotWrite(what: "the export", path: folder + "/" + file.path,
                                                  reason: String(cString: strerror(errno)))
                }
            }
        } catch let error as RosterError {
            throw error
        } catch {
            throw .cannotWrite(what: "the export", path: folder, reason: error.localizedDescription)
        }
    }
}

/// YAML scalars as roster reads them back: plain when that is unambiguous, else double-quoted.
enum YAMLText {
    static func scalar(_ text: String) -> String {
        let plainSafe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._@+-/()'")
        let reserved: Set<String> = ["", "~", "null", "Null", "NULL"]
        let first = text.unicodeScalars.first
        if !reserved.contains(text), text.unicodeScalars.allSatisfy({ plainSafe.contains($0) }),
           let first, CharacterSet.alphanumerics.contains(first), text.last != " " {
            return text
        }
        return CanonicalJSON.quoted(text)
    }

    static func flowList(_ items: [String]) -> String {
        "[" + items.map(scalar).joined(separator: ", ") + "]"
    }
}
