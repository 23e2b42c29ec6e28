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

/// An undelivered invitation message.
public struct OutboxMessage: Sendable, Hashable {
    public var id: String
    public var recipient: String
    /// The RFC 5322 text, holding the clear token.
    public var text: String
    public var attempts: Int
}

/// One audit log record: a change, who made it, when, chained by hash to the one before.
public struct AuditRecord: Codable, Sendable, Hashable {
    public var sequence: Int
    public var serial: Int
    public var at: String
    public var actor: String
    public var commit: String?
    public var action: String
    public var entityType: String
    public var entityID: String
    /// The change as JSON (never a token).
    public var change: String
    public var previousHash: String
    public var hash: String
}

/// The result of `audit verify`.
public struct AuditVerification: Sendable, Hashable {
    public var records: Int
    /// The first record whose hash does not match, when the history was rewritten.
    public var firstBroken: Int?
    public var reason: String?
}

/// Errors a store reports; wording for users lives in `description`.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case lockHeld(holder: LockHolder?)
    case stalePlan(planLineage: String, planSerial: Int, lineage: String, serial: Int, since: [AuditRecord])
    case unknownToken
    case tokenUsed(email: String)
    case tokenRevoked(email: String)
    case tokenExpired(email: String, expiredAt: String)
    case noPendingInvitation(email: String)
    case unknownUser(email: String)
    case inconsistent(String)
    case database(String)
    /// A state URL that cannot be used as written (a usage error, not a runtime one).
    case badURL(String)

    public var description: String {
        switch self {
        case .lockHeld(let holder):
            return "the store is locked by another apply"
                + (holder.map { ": \($0)" } ?? "") + "; wait for it, or retry with --lock-timeout 5m"
        case .stalePlan(let planLineage, let planSerial, let lineage, let serial, let since):
            if planLineage != lineage {
                return "the saved plan was made for another store (lineage \(planLineage), this store is \(lineage)); run 'roster plan' again"
            }
            var text = "the saved plan is stale: it was made at serial \(planSerial), the store is at serial \(serial); run 'roster plan' again"
            if !since.isEmpty {
                text += "\nchanged since:"
                for record in since.prefix(50) {
                    text += "\n  serial \(record.serial) \(record.at) \(record.actor): \(record.action) \(record.entityType) \(record.entityID)"
                }
                if since.count > 50 { text += "\n  … and \(since.count - 50) more (roster history)" }
            }
            return text
        case .unknownToken:
            return "unknown invitation token; check the link, or ask for a new invitation ('roster invitations resend EMAIL')"
        case .tokenUsed(let email):
            return "this invitation for '\(email)' was already accepted"
        case .tokenRevoked(let email):
            return "this invitation for '\(email)' was revoked; ask for a new one ('roster invitations resend \(email)')"
        case .tokenExpired(let email, let at):
            return "this invitation for '\(email)' expired at \(at); ask for a new one ('roster invitations resend \(email)')"
        case .noPendingInvitation(let email):
            return "'\(email)' has no pending invitation"
        case .unknownUser(let email):
            return "'\(email)' is not in the store"
        case .inconsistent(let detail):
            return "the plan does not fit the store: \(detail); run 'roster plan' again"
        case .database(let detail):
            return "store error: \(detail)"
        case .badURL(let detail):
            return detail
        }
    }
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

    func undeliveredMessages() throws -> [OutboxMessage]
    /// Erases the clear tokens: the messages are kept as delivered, without their text.
    func markDelivered(messageIDs: [String], at: Date) throws
    func markFailed(messageID: String, error: String, at: Date) throws

    /// Audit records, oldest first; filtered by serial above `afterSerial`, user email and time.
    func auditRecords(afterSerial: Int?, user: String?, since: Date?) throws -> [AuditRecord]
    func verifyAudit() throws -> AuditVerification
}
