import Foundation

/// Computes the plan that makes the store match the files: pure, deterministic.
public struct Planner: Sendable {
    public var config: Config
    public var now: Date
    /// `--adopt`: users the plan would invite are adopted instead, `active` and without an
    /// invitation (they already use the platform).
    public var adopt: Bool

    public init(config: Config, now: Date, adopt: Bool = false) {
        self.config = config
        self.now = now
        self.adopt = adopt
    }

    /// The ordered changes, access delta and rails from `snapshot` to `desired`.
    public func plan(desired: DesiredDirectory, snapshot: Snapshot, info: DesiredInfo) -> Plan {
        var work = PlanWork(planner: self, desired: desired, snapshot: snapshot)
        PhaseTimings.measure("plan: changes") { work.run() }
        let changes = work.takeOrdered()
        let access = PhaseTimings.measure("plan: access delta") { work.accessDelta() }
        return Plan(desired: info, store: snapshot.store, changes: changes, accessDelta: access,
                    rails: Rails(safety: config.safety).check(changes: changes, snapshot: snapshot),
                    warnings: work.warnings.sorted())
    }
}

/// One plan in the making: the steps in `run` add changes to their phases, `ordered` reads them out.
///
/// Each step lives in its own file (`Planner+Roles.swift`, `+Users`, `+Scopes`, `+Memberships`).
struct PlanWork: Sendable {
    /// The apply order: each phase only needs what earlier phases created.
    enum Phase: Int, CaseIterable {
        case roles, users, customers, accounts, grants, revokes, invitations, deactivations
    }

    let planner: Planner
    let desired: DesiredDirectory
    let snapshot: Snapshot
    /// The stored state with renames applied, so later comparisons see one identity per user.
    var stored: DirectoryState
    var invitations: [String: PendingInvitation]
    var phases: [Phase: [Change]] = [:]
    var affectedUsers: Set<String> = []
    var warnings: [String] = []
    /// What each user owns or is a member of in the files; built on first use (invitations),
    /// dropped after the users' step.
    var grantsByUser: UserParts<[ScopeRef: [String]]>?
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

    /// Renames run before users, and users before scopes and memberships, so each compares
    /// against the stored state as the earlier steps left it.
    mutating func run() {
        planRoles()
        planRenames()
        planUsers()
        planCustomers()
        planAccounts()
        planMemberships()
    }

    /// The changes in apply order; each phase is let go of as it is copied, so a plan of
    /// hundreds of thousands of changes is not held twice.
    mutating func takeOrdered() -> [Change] {
        var ordered: [Change] = []
        ordered.reserveCapacity(phases.values.reduce(0) { $0 + $1.count })
        for phase in Phase.allCases {
            ordered += phases.removeValue(forKey: phase) ?? []
        }
        return ordered
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
        let delta = AccessResolver(catalogue: planner.config.permissions)
            .delta(before: stored, after: want, users: affectedUsers, sources: sources())
        // Its index was made on other threads: freed, it goes back to their allocator arenas
        // (see `planMemberships`).
        Memory.returnFreedMemory()
        return delta
    }

    func drifted(_ key: String) -> Bool {
        snapshot.drifted.contains(key)
    }

    /// A user key as the files (or else the store) write the email.
    func displayEmail(_ key: String) -> String {
        want.users[key]?.email ?? stored.users[key]?.email ?? key
    }
}

// MARK: Comparing the files with the store

extension PlanWork {
    /// The keys of one kind of entry that a step has to look at; all others are unchanged.
    struct Differences<Key> {
        /// Declared keys whose stored entry is missing or not `unchanged`, sorted.
        var changed: [Key]
        /// Stored keys the files no longer declare, sorted.
        var removed: [Key]
    }

    /// What differs between the declared and the stored entries, compared on every core.
    ///
    /// Most entries of a large directory are unchanged, so only the keys that differ are sorted
    /// (each part's on its core, then merged); and when every stored key is declared too, the
    /// store is not scanned for removed ones.
    static func differences<Key: Hashable & Comparable & Sendable, Value: Sendable>(
        declared: [Key: Value], stored: [Key: Value],
        unchanged: @Sendable (_ key: Key, _ declared: Value, _ stored: Value) -> Bool
    ) -> Differences<Key> {
        let slices = Parallel.split(declared, into: Parallel.parts(for: declared.count))
        let found = Parallel.map(slices.count) { slice in
            var changed: [Key] = []
            var storedToo = 0
            for (key, value) in slices[slice] {
                if let old = stored[key] {
                    storedToo += 1
                    if unchanged(key, value, old) { continue }
                }
                changed.append(key)
            }
            changed.sort()
            return (changed: changed, storedToo: storedToo)
        }
        var removed: [Key] = []
        if found.reduce(0, { $0 + $1.storedToo }) < stored.count {
            for key in stored.keys where declared[key] == nil { removed.append(key) }
        }
        return Differences(changed: Parallel.merge(sorted: found.map(\.changed)), removed: removed.sorted())
    }

    /// `differences` where an entry is unchanged when it equals the stored one.
    static func differences<Key: Hashable & Comparable & Sendable, Value: Equatable & Sendable>(
        declared: [Key: Value], stored: [Key: Value]
    ) -> Differences<Key> {
        differences(declared: declared, stored: stored) { _, new, old in new == old }
    }
}
