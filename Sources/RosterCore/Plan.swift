/// What a change does (SPEC §4.1).
public enum ChangeAction: String, Codable, Sendable, CaseIterable {
    case create
    case update
    case invite
    /// `--adopt`: a user the platform already has, created `active` with no invitation.
    case adopt
    case rename
    case grant
    case changeRoles = "change-roles"
    case revoke
    case transferOwnership = "transfer-ownership"
    case move
    case deactivate
    case reactivate
    case reissueInvitation = "reissue-invitation"
    case revokeInvitation = "revoke-invitation"
}

/// What a change applies to.
public enum EntityType: String, Codable, Sendable, CaseIterable {
    case role, user, customer, account, membership, invitation
}

/// How much a reviewer should look at a change; risky changes are shown first.
public enum Risk: String, Codable, Sendable, Comparable {
    case low, medium, high

    private var rank: Int { self == .high ? 0 : self == .medium ? 1 : 2 }
    public static func < (lhs: Risk, rhs: Risk) -> Bool { lhs.rank < rhs.rank }
}

/// The entity values a change moves between; which case is set follows the change's type.
/// Indirect: a change holds two of these and a first plan 440,000 changes, so each value is
/// one shared box rather than a hundred bytes copied with every move of its change.
public indirect enum EntityValue: Sendable, Hashable {
    case role(RoleState)
    case user(UserState)
    case customer(CustomerState)
    case account(AccountState)
    case membership(MembershipState)
}

/// A value kept out of line, compared and hashed by value.
final class Boxed<Value: Hashable & Sendable>: Hashable, Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }

    static func == (lhs: Boxed, rhs: Boxed) -> Bool { lhs.value == rhs.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// What an invitation will say; the token itself is made at apply time, never planned.
public struct InvitationPlan: Codable, Sendable, Hashable {
    /// The user's key.
    public var user: String
    /// The email as written, for the To: line.
    public var email: String
    /// The email of the owner of the scope that brought the user in; nil when that is the user.
    public var inviter: String?
    /// The scopes and roles the invitation grants, sorted.
    public var grants: [InvitationGrant]
    /// The invitation this one replaces, when re-issued.
    public var replaces: String?

    public init(user: String, email: String, inviter: String?, grants: [InvitationGrant], replaces: String? = nil) {
        self.user = user
        self.email = email
        self.inviter = inviter
        self.grants = grants
        self.replaces = replaces
    }
}

/// One scope an invitation names, with the roles granted there (`owner` for ownership).
public struct InvitationGrant: Codable, Sendable, Hashable {
    public var scope: ScopeRef
    public var roles: [String]

    public init(scope: ScopeRef, roles: [String]) {
        self.scope = scope
        self.roles = roles
    }
}

/// One step of a plan.
public struct Change: Sendable, Hashable {
    // The one-byte fields first, together: a change is 8 bytes smaller than with them apart.
    public var action: ChangeAction
    public var type: EntityType
    public var risk: Risk
    /// The store had been changed outside roster; this change reverts it.
    public var drift: Bool
    /// The entity's id: a role, customer or account id, a user's email, `email@kind:id` for a membership.
    public var id: String
    /// The customer this change belongs to, for grouping (nil for roles and users).
    public var customer: String?
    /// The account this change belongs to, for grouping.
    public var account: String?
    public var before: EntityValue?
    public var after: EntityValue?
    /// Where the files declare what this change brings about ("file:line:col").
    public var source: String?
    /// Why, when it is not plain from before and after ("expired 2027-01-31", "user deactivated").
    public var reason: String?
    /// The invitation to issue (invite, reactivate of a user who never accepted, reissue-invitation).
    public var invitation: InvitationPlan? {
        get { invitationBox?.value }
        set { invitationBox = newValue.map(Boxed.init) }
    }
    /// Boxed: most changes issue none, and in line it was 40% of every change's size (a first
    /// plan holds 440,000 changes).
    private var invitationBox: Boxed<InvitationPlan>?

    public init(action: ChangeAction, type: EntityType, id: String, customer: String? = nil, account: String? = nil,
                before: EntityValue? = nil, after: EntityValue? = nil, risk: Risk = .low, drift: Bool = false,
                source: String? = nil, reason: String? = nil, invitation: InvitationPlan? = nil) {
        self.action = action
        self.type = type
        self.id = id
        self.customer = customer
        self.account = account
        self.before = before
        self.after = after
        self.risk = risk
        self.drift = drift
        self.source = source
        self.reason = reason
        self.invitation = invitation
    }
}

extension Change {
    /// The reason of a change that ends what the files no longer declare.
    public static let removedFromFiles = "removed from the files"
}

/// Permissions a user gains or loses on one scope through one provenance.
public struct AccessChange: Codable, Sendable, Hashable, Comparable {
    public enum Direction: String, Codable, Sendable { case gain, loss }

    /// The user's email as written.
    public var user: String
    public var scope: ScopeRef
    public var change: Direction
    /// `module:action`, sorted.
    public var permissions: [String]
    /// `role admin on account acme-live`, `owner of customer acme`.
    public var via: String
    /// Where the files declare it (gains), when known.
    public var source: String?

    public init(user: String, scope: ScopeRef, change: Direction, permissions: [String], via: String, source: String?) {
        self.user = user
        self.scope = scope
        self.change = change
        self.permissions = permissions
        self.via = via
        self.source = source
    }

    /// By user (case-insensitively, as emails compare), scope, gain before loss, provenance, permissions.
    public static func < (lhs: AccessChange, rhs: AccessChange) -> Bool {
        let (l, r) = (Syntax.emailKey(lhs.user), Syntax.emailKey(rhs.user))
        if l != r { return l < r }
        if lhs.scope != rhs.scope { return lhs.scope < rhs.scope }
        if lhs.change != rhs.change { return lhs.change == .gain }
        if lhs.via != rhs.via { return lhs.via < rhs.via }
        return lhs.permissions.lexicographicallyPrecedes(rhs.permissions)
    }
}

/// The safety rails (SPEC §5.3), named as `--allow` names them.
public enum Rail: String, Codable, Sendable, CaseIterable, Comparable {
    case massDeactivation = "mass-deactivation"
    case massRemoval = "mass-removal"
    case ownershipTransfer = "ownership-transfer"
    case customerDeactivation = "customer-deactivation"
    case accountMove = "account-move"

    public static func < (lhs: Rail, rhs: Rail) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A safety rail (SPEC §5.3) and whether this plan trips it.
public struct RailCheck: Codable, Sendable, Hashable {
    public var rail: Rail
    public var blocked: Bool
    public var count: Int
    /// The threshold, for counted rails.
    public var limit: Int?
    public var message: String

    public init(rail: Rail, blocked: Bool, count: Int, limit: Int?, message: String) {
        self.rail = rail
        self.blocked = blocked
        self.count = count
        self.limit = limit
        self.message = message
    }
}

/// The files a plan was made from.
public struct DesiredInfo: Codable, Sendable, Hashable {
    /// SHA-256 of the desired state, hex.
    public var digest: String
    /// The git commit of the files, when they are in a git repository.
    public var commit: String?

    public init(digest: String, commit: String?) {
        self.digest = digest
        self.commit = commit
    }
}

/// Counts of changes by action, and the one-line summary.
public struct PlanSummary: Codable, Sendable, Hashable {
    public var counts: [String: Int]
    public var total: Int
    public var line: String

    public init(changes: [Change]) {
        var counts: [String: Int] = [:]
        for change in changes { counts[change.action.rawValue, default: 0] += 1 }
        self.counts = counts
        self.total = changes.count
        func count(_ actions: ChangeAction...) -> Int { actions.reduce(0) { $0 + (counts[$1.rawValue] ?? 0) } }
        let parts: [(Int, String)] = [
            (count(.create), "to create"),
            (count(.invite), "to invite"),
            (count(.adopt), "to adopt"),
            (count(.update, .rename, .grant, .changeRoles, .transferOwnership, .move, .reactivate, .reissueInvitation),
             "to change"),
            (count(.revoke, .revokeInvitation), "to revoke"),
            (count(.deactivate), "to deactivate"),
        ]
        let shown = parts.filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        line = shown.isEmpty ? "No changes. The store matches the files." : "Plan: " + shown.joined(separator: ", ") + "."
    }
}

/// The ordered changes that make the store match the files: a value, printed, saved and applied.
public struct Plan: Sendable, Hashable {
    public var formatVersion = 1
    public var desired: DesiredInfo
    public var store: StoreInfo
    /// In the order they apply.
    public var changes: [Change]
    public var accessDelta: [AccessChange]
    public var rails: [RailCheck]
    /// Things a reviewer should know that are not changes (an invitation past its re-issues).
    public var warnings: [String]
    public var summary: PlanSummary

    public init(desired: DesiredInfo, store: StoreInfo, changes: [Change], accessDelta: [AccessChange],
                rails: [RailCheck], warnings: [String] = []) {
        self.desired = desired
        self.store = store
        self.changes = changes
        self.accessDelta = accessDelta
        self.rails = rails
        self.warnings = warnings
        self.summary = PlanSummary(changes: changes)
    }

    public var isEmpty: Bool { changes.isEmpty }

    /// The rails this plan trips.
    public var blockedRails: [RailCheck] { rails.filter(\.blocked) }
}
