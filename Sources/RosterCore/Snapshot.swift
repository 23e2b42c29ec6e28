import Foundation

/// A pending invitation as the planner needs to see it.
public struct PendingInvitation: Sendable, Hashable {
    public var id: String
    public var user: String
    public var expiresAt: Date
    public var reissueCount: Int

    public init(id: String, user: String, expiresAt: Date, reissueCount: Int) {
        self.id = id
        self.user = user
        self.expiresAt = expiresAt
        self.reissueCount = reissueCount
    }
}

/// Which store a plan was made against, and at which point of its history.
public struct StoreInfo: Codable, Sendable, Hashable {
    /// `sqlite` or `postgres`; `git` for `roster diff`, which plans from a revision of the files.
    public var backend: String
    /// Fixed when the store is created.
    public var lineage: String
    /// Incremented by every apply that changes something.
    public var serial: Int

    public init(backend: String, lineage: String, serial: Int) {
        self.backend = backend
        self.lineage = lineage
        self.serial = serial
    }

    /// The backend of a plan `roster diff` made: its "store" is the files at a git revision.
    public static let gitRevision = "git"

    /// `roster diff`'s stand-in store: the files at `commit`, as if applied.
    public static func revision(_ commit: String) -> StoreInfo {
        StoreInfo(backend: gitRevision, lineage: commit, serial: 0)
    }

    /// Whether the plan was made from a git revision of the files rather than a store.
    public var isGitRevision: Bool { backend == Self.gitRevision }
}

/// The stored directory as read in a few bulk queries, for the planner.
public struct Snapshot: Sendable {
    public var store: StoreInfo
    /// Users of every status; roles, customers and accounts active or not; active memberships.
    public var state: DirectoryState
    /// Entity keys whose stored values differ from what roster last wrote (changed outside roster).
    public var drifted: Set<String>
    /// Pending (not accepted, not revoked) invitations by user key.
    public var invitations: [String: PendingInvitation]
    /// Users who have accepted an invitation at some point.
    public var everAccepted: Set<String>

    public init(store: StoreInfo, state: DirectoryState = DirectoryState(), drifted: Set<String> = [],
                invitations: [String: PendingInvitation] = [:], everAccepted: Set<String> = []) {
        self.store = store
        self.state = state
        self.drifted = drifted
        self.invitations = invitations
        self.everAccepted = everAccepted
    }
}
