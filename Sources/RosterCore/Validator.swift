/// The rules of SPEC §3 over loaded values: pure, no I/O, every problem collected.
public struct Validator {
    public let config: Config
    public let directory: Directory
    /// The current UTC day, for `expires`.
    public let today: Day
    /// Skip rules that resolve references across files (used when some file failed to load,
    /// so a half-read directory does not produce a flood of misleading "not declared" errors).
    public var checkReferences = true
    /// Users declared at an earlier revision of the files but not now, by lower-cased email:
    /// an owner or member among them was removed, not misspelt, and says so.
    public var formerUsers: [String: FormerUser] = [:]

    public init(config: Config, directory: Directory, today: Day) {
        self.config = config
        self.directory = directory
        self.today = today
    }

    /// Every problem, sorted by file, line and column.
    public func run() -> [Diagnostic] {
        var context = Context(validator: self)
        context.checkCatalogueAndRoles()
        context.checkUsers()
        context.checkCustomers()
        context.checkAccounts()
        if checkReferences {
            context.checkUsage()
        }
        return context.diagnostics.sorted()
    }
}

/// A user that the files no longer declare but an earlier revision of them, or the store, holds.
public struct FormerUser: Sendable, Hashable {
    /// Where the user was found.
    public enum Source: Sendable, Hashable {
        /// A git revision, as the user would name it (`HEAD`).
        case revision(String)
        /// The stored directory.
        case store
    }

    /// The email as written there.
    public var email: String
    public var source: Source
    /// Its `email` at that revision, the file shown as `REV:path`; nil for the store.
    public var location: SourceLocation?

    public init(email: String, source: Source, location: SourceLocation? = nil) {
        self.email = email
        self.source = source
        self.location = location
    }
}

/// Shared lookups built once; the rules read them.
///
/// Lookups map an id or email to an index into the directory's arrays, and usage is kept in
/// flag arrays beside them: a 300,000-membership directory is checked with one hash lookup
/// per reference and no copying of documents.
private struct Context {
    let validator: Validator
    var diagnostics: [Diagnostic] = []
    /// Role id → index in `directory.roles` (first declaration).
    var roles: [String: Int] = [:]
    var roleUsed: [Bool] = []
    /// Lower-cased email → index in `directory.users` (first declaration).
    var users: [String: Int] = [:]
    var userAssigned: [Bool] = []
    /// Customer id → index in `directory.customers` (first declaration).
    var customers: [String: Int] = [:]
    /// Suggestions cost a scan of the candidates each; a directory with thousands of broken
    /// references gets suggestions for the first ones only, so validation stays linear.
    var suggestionBudget = 200

    init(validator: Validator) {
        self.validator = validator
        roleUsed = Array(repeating: false, count: validator.directory.roles.count)
        userAssigned = Array(repeating: false, count: validator.directory.users.count)
    }

    var directory: Directory { validator.directory }
    var checkReferences: Bool { validator.checkReferences }

    mutating func suggest<S: Sequence>(_ word: String, in candidates: S) -> String? where S.Element == String {
        guard suggestionBudget > 0 else { return nil }
        suggestionBudget -= 1
        return Suggestion.closest(to: word, in: candidates)
    }

    mutating func report(_ problem: Problem, at location: SourceLocation, notes: [DiagnosticNote] = []) {
        diagnostics.append(Diagnostic(problem, at: location, notes: notes))
    }

    // MARK: Roles and the catalogue

    mutating func checkCatalogueAndRoles() {
        let catalogue = validator.config.permissions
        var modules: [String: Set<String>] = [:]
        for module in catalogue.modules {
            modules[module.name.value] = Set(module.actions.map(\.value))
        }
        for (index, role) in directory.roles.enumerated() {
            checkSlug(role.id, field: "role id")
            if role.id.value == "owner" {
                report(.reservedRoleID, at: role.id.location)
            }
            if let first = roles[role.id.value] {
                report(.duplicateID(kind: "role", id: role.id.value), at: role.id.location,
                       notes: [DiagnosticNote("first declared here", at: directory.roles[first].id.location)])
                continue
            }
            roles[role.id.value] = index
            for grant in role.permissions {
                guard let actions = modules[grant.module.value] else {
                    report(.unknownModule(module: grant.module.value,
                                          suggestion: suggest(grant.module.value, in: modules.keys)),
                           at: grant.module.location)
                    continue
                }
                for action in grant.actions where action.value != "*" && !actions.contains(action.value) {
                    report(.unknownAction(module: grant.module.value, action: action.value,
                                          suggestion: suggest(action.value, in: actions)),
                           at: action.location)
                }
            }
        }
    }

    // MARK: Users

    mutating func checkUsers() {
        users.reserveCapacity(directory.users.count)
        for (index, user) in directory.users.enumerated() {
            guard Syntax.isEmail(user.email.value) else {
                report(.invalidEmail(value: user.email.value), at: user.email.location)
                continue
            }
            let key = Syntax.emailKey(user.email.value)
            if let first = users[key] {
                report(.duplicateEmail(email: user.email.value), at: user.email.location,
                       notes: [DiagnosticNote("first declared here", at: directory.users[first].email.location)])
                continue
            }
            users[key] = index
        }
        for user in directory.users {
            for previous in user.previousEmails {
                if !Syntax.isEmail(previous.value) {
                    report(.invalidEmail(value: previous.value), at: previous.location)
                } else if let other = users[Syntax.emailKey(previous.value)] {
                    report(.previousEmailCollision(previous: previous.value), at: previous.location,
                           notes: [DiagnosticNote("declared as a user here", at: directory.users[other].email.location)])
                }
            }
        }
    }

    // MARK: Scopes

    mutating func checkCustomers() {
        for (index, customer) in directory.customers.enumerated() {
            checkSlug(customer.id, field: "customer id")
            if let first = customers[customer.id.value] {
                report(.duplicateID(kind: "customer", id: customer.id.value), at: customer.id.location,
                       notes: [DiagnosticNote("first declared here", at: directory.customers[first].id.location)])
            } else {
                customers[customer.id.value] = index
            }
            let scope = "customer '\(customer.id.value)'"
            checkOwner(customer.owner, scope: scope, scopeActive: customer.status == .active)
            checkMembers(customer.members, scope: scope)
        }
    }

    mutating func checkAccounts() {
        var accounts: [String: Int] = [:]
        var perCustomer: [Int] = Array(repeating: 0, count: directory.customers.count)
        for (index, account) in directory.accounts.enumerated() {
            checkSlug(account.id, field: "account id")
            if let first = accounts[account.id.value] {
                report(.duplicateID(kind: "account", id: account.id.value), at: account.id.location,
                       notes: [DiagnosticNote("first declared here", at: directory.accounts[first].id.location)])
            } else {
                accounts[account.id.value] = index
            }
            let scope = "account '\(account.id.value)'"
            if let owner = account.owner {
                checkOwner(owner, scope: scope, scopeActive: account.status == .active)
            }
            checkMembers(account.members, scope: scope)
            let limit = account.memberLimit?.value ?? validator.config.limits.membersPerAccount
            if account.members.count > limit {
                report(.limitExceeded(what: "members", scope: scope, count: account.members.count, limit: limit),
                       at: account.members[limit].location, notes: limitNote(account.memberLimit))
            }
            guard checkReferences else { continue }
            guard let customerIndex = customers[account.customer.value] else {
                report(.unknownCustomer(id: account.customer.value,
                                        suggestion: suggest(account.customer.value, in: customers.keys)),
                       at: account.customer.location)
                continue
            }
            let customer = directory.customers[customerIndex]
            perCustomer[customerIndex] += 1
            let accountLimit = customer.accountLimit?.value ?? validator.config.limits.accountsPerCustomer
            if perCustomer[customerIndex] == accountLimit + 1 {
                let total = directory.accounts.lazy.filter { $0.customer.value == customer.id.value }.count
                report(.limitExceeded(what: "accounts", scope: "customer '\(customer.id.value)'",
                                      count: total, limit: accountLimit),
                       at: account.customer.location, notes: limitNote(customer.accountLimit))
            }
        }
    }

    func limitNote(_ limit: Located<Int>?) -> [DiagnosticNote] {
        limit.map { [DiagnosticNote("limit set here", at: $0.location)] } ?? []
    }

    mutating func checkOwner(_ owner: Located<String>, scope: String, scopeActive: Bool) {
        let key = Syntax.emailKey(owner.value)
        guard let index = users[key] else {
            if checkReferences {
                reportUndeclared(owner, key: key, role: "owner")
            }
            return
        }
        userAssigned[index] = true
        let user = directory.users[index]
        if checkReferences, user.status == .inactive, scopeActive {
            report(.inactiveOwner(email: owner.value, scope: scope), at: owner.location,
                   notes: [DiagnosticNote("declared inactive here", at: user.email.location)])
        }
    }

    mutating func checkMembers(_ members: [Member], scope: String) {
        // Member lists are short: a pairwise scan beats a dictionary per scope.
        let keys = members.map { Syntax.emailKey($0.user.value) }
        var large: [String: Int] = [:]
        for (position, member) in members.enumerated() {
            let key = keys[position]
            let first: Int?
            if members.count <= 16 {
                first = keys[..<position].firstIndex(of: key)
            } else {
                first = large[key]
                if first == nil { large[key] = position }
            }
            if let first {
                report(.duplicateMember(email: member.user.value, scope: scope), at: member.user.location,
                       notes: [DiagnosticNote("first listed here", at: members[first].user.location)])
            }
            for role in member.roles {
                if role.value == "owner" {
                    report(.reservedRole, at: role.location)
                } else if let index = roles[role.value] {
                    roleUsed[index] = true
                } else if checkReferences {
                    report(.unknownRole(id: role.value, suggestion: suggest(role.value, in: roles.keys)), at: role.location)
                }
            }
            if let expires = member.expires, expires.value <= validator.today {
                report(.expiredMembership(email: member.user.value, scope: scope, expires: expires.value.description),
                       at: expires.location)
            }
            if let index = users[key] {
                userAssigned[index] = true
                let user = directory.users[index]
                if checkReferences, user.status == .inactive {
                    report(.inactiveMember(email: member.user.value, scope: scope), at: member.user.location,
                           notes: [DiagnosticNote("declared inactive here", at: user.email.location)])
                }
            } else if checkReferences {
                reportUndeclared(member.user, key: key, role: "member")
            }
        }
    }

    /// An owner or member that is not a declared user: removed since an earlier revision, or
    /// a typo of a declared one (never merely a similar-looking other person), or neither.
    mutating func reportUndeclared(_ email: Located<String>, key: String, role: String) {
        if let former = validator.formerUsers[key] {
            switch former.source {
            case .revision(let revision):
                report(.removedUser(email: email.value, role: role, revision: revision), at: email.location,
                       notes: former.location.map { [DiagnosticNote("declared here at \(revision)", at: $0)] } ?? [])
            case .store:
                report(.removedUser(email: email.value, role: role, revision: nil), at: email.location)
            }
            return
        }
        var suggestion: String?
        if suggestionBudget > 0 {
            suggestionBudget -= 1
            suggestion = Suggestion.closestEmail(to: key, in: users.keys)
                .flatMap { users[$0] }.map { directory.users[$0].email.value }
        }
        report(.unknownUser(email: email.value, role: role, suggestion: suggestion), at: email.location)
    }

    // MARK: Warnings over the whole directory

    mutating func checkUsage() {
        for (index, role) in directory.roles.enumerated() where roles[role.id.value] == index && !roleUsed[index] {
            report(.unusedRole(id: role.id.value), at: role.id.location)
        }
        for (index, user) in directory.users.enumerated()
        where user.status == .active && !userAssigned[index] && users[Syntax.emailKey(user.email.value)] == index {
            report(.unassignedUser(email: user.email.value), at: user.email.location)
        }
    }

    mutating func checkSlug(_ id: Located<String>, field: String) {
        if !Syntax.isSlug(id.value) {
            report(.invalidSlug(field: field, value: id.value), at: id.location)
        }
    }
}

/// The shapes of identifiers (SPEC §1).
public enum Syntax {
    /// The identity of an email: lower-cased (without allocating when it already is).
    public static func emailKey(_ email: String) -> String {
        for byte in email.utf8 where byte >= 0x80 || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) {
            return email.lowercased()
        }
        return email
    }

    /// `[a-z0-9][a-z0-9-]{0,62}`.
    public static func isSlug(_ text: String) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, bytes.count <= 63, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A plain `local@domain.tld` address: no spaces, quotes or brackets; a dotted domain.
    public static func isEmail(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= 254, let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0,
              bytes.lastIndex(of: UInt8(ascii: "@")) == at else { return false }
        let local = bytes[..<at]
        let domain = bytes[(at + 1)...]
        guard local.count <= 64, !local.contains(where: { forbiddenInLocalPart.contains($0) || $0 < 0x20 }),
              local.first != UInt8(ascii: "."), local.last != UInt8(ascii: ".") else { return false }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 >= 0x80 }
        }
    }

    private static let forbiddenInLocalPart = Set(" \t\r\n\"(),:;<>[\\]".utf8)

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        isLowerAlnum(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
}
