import RosterCore

/// The document kinds a directory file may hold.
public enum DocumentKind: String, CaseIterable, Sendable {
    case role = "Role"
    case user = "User"
    case customer = "Customer"
    case account = "Account"

    /// The fields each kind accepts, `kind` included.
    public var fields: [String] {
        switch self {
        case .role: return ["kind", "id", "name", "description", "permissions"]
        case .user: return ["kind", "email", "name", "status", "previousEmails"]
        case .customer: return ["kind", "id", "name", "owner", "status", "limits", "members"]
        case .account: return ["kind", "id", "customer", "name", "service", "owner", "status", "limits", "members"]
        }
    }

    /// The fields a document of this kind must have.
    public var required: [String] {
        switch self {
        case .role: return ["id", "permissions"]
        case .user: return ["email"]
        case .customer: return ["id", "owner"]
        case .account: return ["id", "customer"]
        }
    }
}

/// Decodes the documents of one file into `Directory` values.
struct DocumentDecoder {
    var reader: NodeReader

    init(tree: YAMLTree) {
        reader = NodeReader(tree: tree)
    }

    var tree: YAMLTree { reader.tree }
    typealias NodeID = YAMLTree.NodeID

    /// Appends every document of the tree to `directory`.
    mutating func decode(into directory: inout Directory) {
        for root in tree.documents {
            decodeDocument(root, into: &directory)
        }
    }

    private mutating func decodeDocument(_ root: NodeID, into directory: inout Directory) {
        let kinds = DocumentKind.allCases.map(\.rawValue)
        guard tree.kind(root) == .mapping else {
            reader.report(.wrongType(field: "document", expected: "a mapping with a 'kind'",
                                     found: tree.typeName(root)), at: root)
            return
        }
        guard let kindNode = tree.entries(root).first(where: { tree.scalar($0.key) == "kind" })?.value else {
            reader.report(.missingKind(kinds: kinds), at: root)
            return
        }
        guard let kindText = reader.string(kindNode, field: "kind")?.value else { return }
        guard let kind = DocumentKind(rawValue: kindText) else {
            reader.report(.unknownKind(kind: kindText, suggestion: Suggestion.closest(to: kindText, in: kinds),
                                       kinds: kinds), at: kindNode)
            return
        }
        let location = tree.location(root)
        switch kind {
        case .role: if let role = decodeRole(root, at: location) { directory.roles.append(role) }
        case .user: if let user = decodeUser(root, at: location) { directory.users.append(user) }
        case .customer: if let customer = decodeCustomer(root, at: location) { directory.customers.append(customer) }
        case .account: if let account = decodeAccount(root, at: location) { directory.accounts.append(account) }
        }
    }

    private mutating func decodeRole(_ root: NodeID, at location: SourceLocation) -> Role? {
        let kind = DocumentKind.role
        var id: Located<String>?
        var name: String?
        var description: String?
        var permissions: [PermissionGrant] = []
        var sawPermissions = false
        reader.mapping(root, field: "document", in: "Role", fields: kind.fields, required: kind.required) { r, key, value in
            switch key {
            case "id": id = r.string(value, field: "id")
            case "name": name = r.optionalString(value, field: "name")
            case "description": description = r.optionalString(value, field: "description")
            case "permissions":
                sawPermissions = true
                permissions = Self.permissions(value, reader: &r)
            default: break
            }
        }
        guard let id, sawPermissions else { return nil }
        return Role(id: id, name: name, description: description, permissions: permissions, location: location)
    }

    /// `module: [actions]` pairs; a module's actions may also be the single string `"*"`.
    private static func permissions(_ node: NodeID, reader r: inout NodeReader) -> [PermissionGrant] {
        let tree = r.tree
        if tree.isNull(node) { return [] }
        guard tree.kind(node) == .mapping else {
            r.report(.wrongType(field: "permissions", expected: "a mapping of module to actions",
                                found: tree.typeName(node)), at: node)
            return []
        }
        var grants: [PermissionGrant] = []
        for (key, value) in tree.entries(node) {
            guard let module = r.string(key, field: "permissions module") else { continue }
            let actions: [Located<String>]
            if tree.kind(value) == .scalar, tree.scalar(value) == "*" {
                actions = [Located("*", at: tree.location(value))]
            } else {
                actions = r.strings(value, field: "permissions.\(module.value)")
            }
            grants.append(PermissionGrant(module: module, actions: actions))
        }
        return grants
    }

    private mutating func decodeUser(_ root: NodeID, at location: SourceLocation) -> User? {
        let kind = DocumentKind.user
        var email: Located<String>?
        var name: String?
        var status = DeclaredStatus.active
        var previous: [Located<String>] = []
        reader.mapping(root, field: "document", in: "User", fields: kind.fields, required: kind.required) { r, key, value in
            switch key {
            case "email": email = r.string(value, field: "email")
            case "name": name = r.optionalString(value, field: "name")
            case "status": status = r.status(value) ?? status
            case "previousEmails": previous = r.strings(value, field: "previousEmails")
            default: break
            }
        }
        guard let email else { return nil }
        return User(email: email, name: name, status: status, previousEmails: previous, location: location)
    }

    private mutating func decodeCustomer(_ root: NodeID, at location: SourceLocation) -> Customer? {
        let kind = DocumentKind.customer
        var id: Located<String>?
        var name: String?
        var owner: Located<String>?
        var status = DeclaredStatus.active
        var limit: Located<Int>?
        var members: [Member] = []
        reader.mapping(root, field: "document", in: "Customer", fields: kind.fields, required: kind.required) { r, key, value in
            switch key {
            case "id": id = r.string(value, field: "id")
            case "name": name = r.optionalString(value, field: "name")
            case "owner": owner = r.string(value, field: "owner")
            case "status": status = r.status(value) ?? status
            case "limits": limit = Self.limit(value, key: "accounts", in: "Customer limits", reader: &r)
            case "members": members = Self.members(value, reader: &r)
            default: break
            }
        }
        guard let id, let owner else { return nil }
        return Customer(id: id, name: name, owner: owner, status: status, accountLimit: limit,
                        members: members, location: location)
    }

    private mutating func decodeAccount(_ root: NodeID, at location: SourceLocation) -> Account? {
        let kind = DocumentKind.account
        var id: Located<String>?
        var customer: Located<String>?
        var name: String?
        var service: String?
        var owner: Located<String>?
        var status = DeclaredStatus.active
        var limit: Located<Int>?
        var members: [Member] = []
        reader.mapping(root, field: "document", in: "Account", fields: kind.fields, required: kind.required) { r, key, value in
            switch key {
            case "id": id = r.string(value, field: "id")
            case "customer": customer = r.string(value, field: "customer")
            case "name": name = r.optionalString(value, field: "name")
            case "service": service = r.optionalString(value, field: "service")
            case "owner": owner = r.tree.isNull(value) ? nil : r.string(value, field: "owner")
            case "status": status = r.status(value) ?? status
            case "limits": limit = Self.limit(value, key: "members", in: "Account limits", reader: &r)
            case "members": members = Self.members(value, reader: &r)
            default: break
            }
        }
        guard let id, let customer else { return nil }
        return Account(id: id, customer: customer, name: name, service: service, owner: owner, status: status,
                       memberLimit: limit, members: members, location: location)
    }

    /// A `limits` mapping with its single key (`accounts` or `members`).
    private static func limit(_ node: NodeID, key: String, in container: String,
                              reader r: inout NodeReader) -> Located<Int>? {
        if r.tree.isNull(node) { return nil }
        var result: Located<Int>?
        r.mapping(node, field: "limits", in: container, fields: [key]) { r, _, value in
            result = r.count(value, field: "limits.\(key)")
        }
        return result
    }

    private static func members(_ node: NodeID, reader r: inout NodeReader) -> [Member] {
        var members: [Member] = []
        // Exactly as many as the list has (300,000 at scale, held while the plan is made).
        members.reserveCapacity(r.tree.items(node).count)
        r.list(node, field: "members") { r, item in
            var user: Located<String>?
            var roles: [Located<String>] = []
            var sawRoles = false
            var expires: Located<Day>?
            r.mapping(item, field: "members entry", in: "a members entry", fields: ["user", "roles", "expires"],
                      required: ["user", "roles"]) { r, key, value in
                switch key {
                case "user": user = r.string(value, field: "user")
                case "roles":
                    sawRoles = true
                    roles = r.strings(value, field: "roles")
                    if roles.isEmpty, r.tree.kind(value) == .sequence || r.tree.isNull(value) {
                        r.report(.invalidValue(field: "roles", value: "[]", expected: "at least one role"), at: value)
                    }
                case "expires": expires = r.tree.isNull(value) ? nil : r.day(value, field: "expires")
                default: break
                }
            }
            if let user, sawRoles {
                members.append(Member(user: user, roles: roles, expires: expires, location: r.tree.location(item)))
            }
        }
        return members
    }
}
