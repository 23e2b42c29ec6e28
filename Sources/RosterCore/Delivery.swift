import Foundation

/// A person an invitation names: its recipient, or the owner who invites.
public struct InvitationParty: Codable, Sendable, Hashable {
    public var email: String
    public var name: String?

    public init(email: String, name: String?) {
        self.email = email
        self.name = name
    }
}

/// One scope an invitation grants, with its name for the message.
public struct InvitedScope: Codable, Sendable, Hashable {
    public var type: ScopeKind
    public var id: String
    public var name: String?
    /// The roles granted there (`owner` for ownership), sorted.
    public var roles: [String]

    public init(type: ScopeKind, id: String, name: String?, roles: [String]) {
        self.type = type
        self.id = id
        self.name = name
        self.roles = roles
    }
}

/// One invitation message waiting in the outbox, with everything a channel needs: the
/// structured invitation (for a webhook body), its clear token and accept link, and the
/// RFC 5322 mail composed from them (for files and sendmail).
public struct OutboundInvitation: Sendable, Hashable {
    /// Stable across retries (the mail's Message-ID, the webhook's `webhook-id`).
    public var messageID: String
    public var invitationID: String
    public var recipient: InvitationParty
    /// The owner of the scope that brought the user in; nil when that is the user.
    public var inviter: InvitationParty?
    public var scopes: [InvitedScope]
    /// The clear token: only here, and only until the message is delivered.
    public var token: String
    /// `invitations.acceptUrl` with the token in it; nil when none is configured.
    public var acceptURL: String?
    public var issuedAt: Date
    public var expiresAt: Date
    /// Attempts made so far.
    public var attempts: Int

    public init(messageID: String, invitationID: String, recipient: InvitationParty, inviter: InvitationParty?,
                scopes: [InvitedScope], token: String, acceptURL: String?, issuedAt: Date, expiresAt: Date,
                attempts: Int) {
        self.messageID = messageID
        self.invitationID = invitationID
        self.recipient = recipient
        self.inviter = inviter
        self.scopes = scopes
        self.token = token
        self.acceptURL = acceptURL
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.attempts = attempts
    }

    /// The Message-ID of an invitation's message: the same for every attempt.
    public static func messageID(invitationID: String) -> String {
        "<invitation-\(invitationID)@roster>"
    }
}

/// What one attempt to send a message came to; the scheduler, not the channel, decides
/// what follows (SPEC §6.2).
public enum DeliveryOutcome: Sendable, Hashable {
    case delivered
    /// Worth retrying: a timeout, a refused connection, a 5xx, sendmail's EX_TEMPFAIL.
    /// `retryAfter` is the receiver's own wish (a `Retry-After` header), in seconds from now.
    case temporaryFailure(reason: String, retryAfter: TimeInterval?)
    /// Retrying the same message cannot help: it is marked failed at once.
    case permanentFailure(reason: String)

    /// The reason of a failure; nil when delivered.
    public var failureReason: String? {
        switch self {
        case .delivered: return nil
        case .temporaryFailure(let reason, _), .permanentFailure(let reason): return reason
        }
    }
}

/// A place invitation messages go: a folder, a webhook, a sendmail command (SPEC §6.1).
///
/// A channel is made for one delivery run with its settings and the environment variables it
/// may read (a webhook's secret) passed in, and never throws: every failure is an outcome.
public protocol DeliveryChannel: Sendable {
    /// How many messages the scheduler may have in flight at once.
    var concurrency: Int { get }
    func deliver(_ message: OutboundInvitation) async -> DeliveryOutcome
    /// Releases what the channel holds (connections); called once, after the run.
    func shutdown() async
}

extension DeliveryChannel {
    public var concurrency: Int { 1 }
    public func shutdown() async {}
}
