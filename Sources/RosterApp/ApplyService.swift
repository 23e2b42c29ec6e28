import Foundation
import RosterCore
import RosterStore

/// What an apply is asked to do.
public struct ApplyRequest: Sendable {
    /// A plan saved with `roster plan --out`, applied exactly as reviewed; nil plans afresh.
    public var savedPlan: Plan?
    /// Rails lifted with `--allow`.
    public var allowed: Set<Rail>
    /// Seconds to wait for another apply's lock.
    public var lockTimeout: TimeInterval
    public var actor: String
    /// `--adopt`: a fresh plan adopts the users it would invite. A saved plan made with
    /// `plan --adopt` already says `adopt`.
    public var adopt: Bool

    public init(savedPlan: Plan?, allowed: Set<Rail>, lockTimeout: TimeInterval, actor: String, adopt: Bool = false) {
        self.savedPlan = savedPlan
        self.allowed = allowed
        self.lockTimeout = lockTimeout
        self.actor = actor
        self.adopt = adopt
    }
}

/// What an apply came to.
public enum ApplyResult: Sendable {
    /// The plan had no changes: nothing was written.
    case unchanged(Plan)
    /// The changes written; the plan's access delta is empty here (it was shown, then let go of).
    case applied(Plan, ApplyOutcome)
}

/// The apply use case (SPEC §5): lock → plan (or the saved one) → show → rails → approval →
/// one transaction. Showing and approving are the caller's (a prompt on a terminal, a flag in CI).
public struct ApplyService {
    public let store: any StateStore
    public let environment: AppEnvironment
    /// The project: loaded, or still loading and validating on other cores while the lock is taken
    /// and the store is read; waited for where it is first needed.
    private let files: @Sendable () throws(RosterError) -> Project

    /// `files` is called under the lock, once the store is read, and may be called again.
    public init(loading files: @escaping @Sendable () throws(RosterError) -> Project, store: any StateStore,
                environment: AppEnvironment) {
        self.files = files
        self.store = store
        self.environment = environment
    }

    /// Applies under the store's apply lock. `show` sees the plan before anything is checked;
    /// `approve` is asked only when the plan has changes and no rail blocks it.
    public func apply(_ request: ApplyRequest, show: (Plan) -> Void, approve: (Plan) -> Bool) throws(RosterError) -> ApplyResult {
        do {
            return try storeCall {
                try store.withApplyLock(holder: environment.lockHolder(actor: request.actor), timeout: request.lockTimeout) {
                    () throws -> ApplyResult in
                    var plan = try request.savedPlan ?? freshPlan(adopt: request.adopt)
                    let project = try files()
                    show(plan)
                    guard !plan.isEmpty else { return .unchanged(plan) }
                    let blocked = plan.blockedRails.filter { !request.allowed.contains($0.rail) }
                    guard blocked.isEmpty else { throw RosterError.railsBlocked(blocked) }
                    guard approve(plan) else { throw RosterError.cancelled }
                    // Shown and approved, the access delta is not needed to write the changes: let
                    // go of it (a first plan's 370,000 rows) before the transaction takes its memory,
                    // and give the memory back: SQLite's page cache grows on the thread that runs the
                    // inserts (`SQLiteSender`), from memory of its own.
                    plan.accessDelta = []
                    Memory.returnFreedMemory()
                    try EventFeed(store: store, environment: environment).register(project.config.events)
                    let context = ApplyContext(actor: request.actor, commit: plan.desired.commit, now: environment.now(),
                                               random: environment.random, invitations: project.config.invitations)
                    return .applied(plan, try PhaseTimings.measure("transaction") { try store.apply(plan, context: context) })
                }
            }
        } catch {
            // Invalid files are reported before any other failure, a held lock among them (exit 3,
            // not 4), as when they loaded first; and no load outlives the apply.
            _ = try files()
            throw error
        }
    }

    /// A plan made now, under the lock: the store is read while the files may still be loading,
    /// and their digest is taken on another core while the plan is made.
    private func freshPlan(adopt: Bool) throws -> Plan {
        let snapshot = try PhaseTimings.measure("read store") { try store.snapshot() }
        let project = try files()
        let info = Background { project.desiredInfo() }
        let desired = PhaseTimings.measure("desired state") { project.desired() }
        return PhaseTimings.measure("plan") { project.planner(adopt: adopt).plan(desired: desired, snapshot: snapshot, info: info.value()) }
    }
}
