/// The kind of scope a membership or permission applies to.
public enum ScopeKind: String, Codable, Sendable, Hashable, Comparable {
    case customer
    case account

    public static func < (lhs: ScopeKind, rhs: ScopeKind) -> Bool {
        lhs == .customer && rhs == .account
    }
}

/// A customer or an account, printed `customer acme` / `account acme-live`.
public struct ScopeRef: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var kind: ScopeKind
    public var id: String

    public init(_ kind: ScopeKind, _ id: String) {
        self.kind = kind
        self.id = id
    }

    public var description: String { "\(kind.rawValue) \(id)" }

    /// Hashes the id and a bit for the kind (not the kind's raw string): plans hash hundreds
    /// of thousands of these.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(kind == .customer)
    }

    public static func < (lhs: ScopeRef, rhs: ScopeRef) -> Bool {
        (lhs.kind, lhs.id) < (rhs.kind, rhs.id)
    }
}

/// A user's status in the store.
public enum UserStatus: String, Codable, Sendable, Hashable {
    case invited
    case active
    case inactive
}

/// A role as stored: permissions expanded (no `*`), modules and actions sorted.
public struct RoleState: Codable, Sendable, Hashable {
    public var id: String
    public var name: String?
    public var description: String?
    public var permissions: [String: [String]]
    public var active: Bool

    public init(id: String, name: String?, description: String?, permissions: [String: [String]], active: Bool = true) {
        self.id = id
        self.name = name
        self.description = description
        self.permissions = permissions
        self.active = active
    }

    /// Every `module:action` the role grants, sorted.
    public var grants: [String] {
        permissions.keys.sorted().flatMap { module in (permissions[module] ?? []).map { "\(module):\($0)" } }
    }
}

/// A user as stored; `key` is the lower-cased email, `email` keeps the spelling.
public struct UserState: Codable, Sendable, Hashable {
    public var key: String
    public var email: String
    public var name: String?
    public var status: UserStatus

    public init(email: String, name: String?, status: UserStatus) {
        self.key = Syntax.emailKey(email)
        self.email = email
        self.name = name
        self.status = status
    }
}

/// A customer as stored; `owner` is a user key.
public struct CustomerState: Codable, Sendable, Hashable {
    public var id: String
    public var name: String?
    public var owner: String
    public var active: Bool

    public init(id: String, name: String?, owner: String, active: Bool) {
        self.id = id
        self.name = name
        self.owner = owner
        self.active = active
    }
}

/// An account as stored; `owner` is a user key, already defaulted to the customer's owner.
public struct AccountState: Codable, Sendable, Hashable {
    public var id: String
    public var customer: String
    public var name: String?
    public var service: String?
    public var owner: String
    public var active: Bool

    public init(id: String, customer: String, name: String?, service: String?, owner: String, active: Bool) {
        self.id = id
        self.customer = customer
        self.name = name
        self.service = service
        self.owner = owner
        self.active = active
    }
}

/// Identity of a membership: one per user per scope.
public struct MembershipKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var user: String
    public var scope: ScopeRef

    public init(user: String, scope: ScopeRef) {
        self.user = user
        self.scope = scope
    }

    public var description: String { "\(user) in \(scope)" }

    /// Compares the scope first: a scope id is usually short enough (15 bytes) to be stored
    /// inline in the string, while an email lives on the heap. Dictionaries of 300,000
    /// memberships compare a probed key with every occupied slot they pass, and most of those
    /// differ in scope, so the email (a cache miss each) is read only for the slot that matches.
    public static func == (lhs: MembershipKey, rhs: MembershipKey) -> Bool {
        lhs.scope.id == rhs.scope.id && lhs.scope.kind == rhs.scope.kind && lhs.user == rhs.user
    }

    public static func < (lhs: MembershipKey, rhs: MembershipKey) -> Bool {
        if lhs.scope != rhs.scope { return lhs.scope < rhs.scope }
        return lhs.user < rhs.user
    }
}

/// An active membership: roles sorted, optional expiry day.
public struct MembershipState: Codable, Sendable, Hashable {
    public var key: MembershipKey
    public var roles: [String]
    public var expires: String?

    public init(key: MembershipKey, roles: [String], expires: String?) {
        self.key = key
        self.roles = roles
        self.expires = expires
    }
}

/// A whole directory as plain values: what the files declare, or what the store holds.
public struct DirectoryState: Sendable, Equatable {
    public var roles: [String: RoleState] = [:]
    public var users: [String: UserState] = [:]
    public var customers: [String: CustomerState] = [:]
    public var accounts: [String: AccountState] = [:]
    /// Active memberships only.
    public var memberships: [MembershipKey: MembershipState] = [:]

    public init() {}
}
