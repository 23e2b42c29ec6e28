import Foundation
import RosterCore

/// Who holds the apply lock, reported to anyone who has to wait for it.
public struct LockHolder: Codable, Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var pid: Int32
    public var actor: String
    public var since: String

    public init(host: String, pid: Int32, actor: String, since: String) {
        self.host = host
        self.pid = pid
        self.actor = actor
        self.since = since
    }

    public var description: String { "\(actor) on \(host) (pid \(pid)) since \(since)" }
}

/// Everything an apply needs from outside the plan: who, when, which commit, and randomness.
public struct ApplyContext: Sendable {
    public var actor: String
    public var commit: String?
    public var now: Date
    public var random: any RandomSource
    public var invitations: InvitationSettings

    public init(actor: String, commit: String?, now: Date, random: any RandomSource, invitations: InvitationSettings) {
        self.actor = actor
        self.commit = commit
        self.now = now
        self.random = random
        self.invitations = invitations
    }
}

/// What an apply did.
public struct ApplyOutcome: Sendable, Hashable {
    /// The store's serial after the apply (unchanged when the plan was empty).
    public var serial: Int
    public var applied: Int
    /// Invitation messages now waiting in the outbox.
    public var messages: Int
}

/// The state of an invitation, as `invitations list --status` filters it.
public enum InvitationStatus: String, Codable, Sendable, CaseIterable {
    case pending, accepted, expired, revoked
}

/// One invitation as listed; never carries the token.
public struct InvitationRecord: Codable, Sendable, Hashable {
    public var id: String
    public var email: String
    public var status: InvitationStatus
    public var inviter: String?
    public var issuedAt: String
    public var expiresAt: String
    public var reissueCount: Int
}

/// Where one invitation message stands in the outbox (SPEC §6.2).
public enum OutboxStatus: String, Codable, Sendable, CaseIterable {
    /// Waiting for its first attempt, or for the next one on the retry schedule.
    case pending
    /// Sent; its token was erased.
    case delivered
    /// Every attempt failed, or one failed for good; `roster deliver --retry-failed` tries again.
    case failed
    /// Its invitation was revoked or re-sent before it went out; never sent.
    case revoked
}

/// A few rows of the directory, enough to resolve some access (SPEC §7 `access`, `who-can`):
/// the users, scopes, owners, memberships and roles it depends on.
public struct AccessSlice: Sendable {
    public var state: DirectoryState
    /// When each membership began (its `started_at` day).
    public var since: [MembershipKey: String]
}

/// What `storedNames` lists.
public enum StoredName: Sendable {
    case email, customer, account
}

/// The store's position: what a cheap "did anything change?" check reads.
public struct StoreStatus: Sendable, Hashable {
    public var lineage: String
    public var serial: Int
    /// The last audit record's `seq` (0 when there is none).
    public var lastSequence: Int
}

/// Where an events endpoint stands: the last `seq` it received, and its retry state.
public struct EventCursor: Codable, Sendable, Hashable {
    public var endpoint: String
    public var cursor: Int
    /// Failed attempts at the event after the cursor.
    public var attempts: Int
    public var lastError: String?
    public var lastAttemptAt: String?
    public var nextAttemptAt: Date?
}

/// A failed attempt to send an event: why, and when to try again.
public struct EventFailure: Sendable, Hashable {
    public var error: String
    public var nextAttempt: Date

    public init(error: String, nextAttempt: Date) {
        self.error = error
        self.nextAttempt = nextAttempt
    }
}

/// One outbox message as `roster outbox` lists it; never carries the token.
public struct OutboxEntry: Codable, Sendable, Hashable {
    /// The Message-ID.
    public var id: String
    public var recipient: String
    public var status: OutboxStatus
    public var attempts: Int
    public var createdAt: String
    public var lastAttemptAt: String?
    public var lastError: String?
    /// When a pending message is tried next (nil: at the next run).
    public var nextAttemptAt: String?
    public var deliveredAt: String?
}

/// What one attempt came to, as the outbox records it.
public struct OutboxUpdate: Sendable, Hashable {
    public var messageID: String
    /// `delivered`, `pending` (to retry at `nextAttempt`) or `failed`.
    public var status: OutboxStatus
    public var nextAttempt: Date?
    public var error: String?

    public init(messageID: String, status: OutboxStatus, nextAttempt: Date? = nil, error: String? = nil) {
        self.messageID = messageID
        self.status = status
        self.nextAttempt = nextAttempt
        self.error = error
    }
}

/// The result of `audit verify`.
public struct AuditVerification: Sendable, Hashable {
    public var records: Int
    /// The first record whose hash does not match, when the history was rewritten.
    public var firstBroken: Int?
    public var reason: String?
}

/// A stored directory, in SQLite or PostgreSQL; nothing backend-specific leaks past this.
public protocol StateStore: AnyObject {
    /// `sqlite` or `postgres`.
    var backend: String { get }
    /// Where the store is, safe to print (passwords masked).
    var displayURL: String { get }

    /// The stored directory, read in a few bulk queries.
    func snapshot() throws -> Snapshot

    /// Runs `body` holding the store's apply lock, waiting up to `timeout` seconds for it.
    func withApplyLock<T>(holder: LockHolder, timeout: TimeInterval, _ body: () throws -> T) throws -> T

    /// Applies `plan` in one transaction with its audit records and outbox messages.
    /// Refuses a plan made at another lineage or serial (`StoreError.stalePlan`).
    func apply(_ plan: Plan, context: ApplyContext) throws -> ApplyOutcome

    func invitations(status: InvitationStatus?, now: Date) throws -> [InvitationRecord]
    /// Makes the token's user active; returns the user's email.
    func acceptInvitation(token: String, now: Date, actor: String) throws -> String
    /// Issues a fresh token for a pending user and revokes the old one.
    func resendInvitation(email: String, context: ApplyContext) throws
    func revokeInvitation(email: String, context: ApplyContext) throws

    /// Pending messages in the order they were queued, at most `limit`, after the message
    /// `after` (keyset paging); with `dueBy`, only those whose next attempt is due by then.
    /// Names are read from the store; `acceptURL` is left for the caller to fill in.
    func pendingMessages(dueBy: Date?, after: String?, limit: Int) throws -> [OutboundInvitation]
    /// How many messages `pendingMessages` would return in all.
    func countPendingMessages(dueBy: Date?) throws -> Int
    /// Records attempts in one transaction: a delivered message's token is erased.
    func recordAttempts(_ updates: [OutboxUpdate], at: Date) throws
    /// Returns failed messages to pending with a fresh schedule; how many.
    func retryFailedMessages() throws -> Int
    /// The outbox, oldest first, optionally of one status.
    func outbox(status: OutboxStatus?) throws -> [OutboxEntry]
    /// Runs `body` holding the store's delivery lock (one delivery run at a time; it never
    /// blocks an apply); nil without running it when another run holds it.
    func withDeliveryLock<T>(_ body: () throws -> T) throws -> T?

    /// Audit records, oldest first; filtered by serial above `afterSerial`, user email and time.
    func auditRecords(afterSerial: Int?, user: String?, since: Date?) throws -> [AuditRecord]
    /// Up to `limit` audit records after `afterSequence`, in order: the event feed.
    func records(afterSequence: Int, limit: Int) throws -> [AuditRecord]
    /// The lineage, serial and last audit `seq`, in one cheap read.
    func status() throws -> StoreStatus
    /// The part of the directory one user's access depends on; nil for an unknown email.
    func accessSlice(user email: String) throws -> AccessSlice?
    /// The part of the directory access to one scope depends on; nil for an unknown scope.
    func accessSlice(scope: ScopeRef) throws -> AccessSlice?
    /// Every stored email, customer id or account id (for "did you mean").
    func storedNames(_ kind: StoredName) throws -> [String]
    /// Every endpoint's cursor, by name.
    func eventCursors() throws -> [String: EventCursor]
    /// The endpoint's cursor, made when it is new: at 0 (`fromStart`) or after the last record.
    func registerEndpoint(_ name: String, fromStart: Bool, at: Date) throws -> EventCursor
    /// Moves the endpoint's cursor from `expected` to `cursor` and records the attempt (a
    /// delivery when `failure` is nil) in one transaction; false when the cursor was not at
    /// `expected` (another run moved it).
    func recordEventAttempt(endpoint: String, expected: Int, cursor: Int, failure: EventFailure?, at: Date) throws -> Bool
    func verifyAudit() throws -> AuditVerification
}
