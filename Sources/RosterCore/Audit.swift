import Foundation

/// What an audit record says happened: a change a plan applied, or something done to one
/// invitation outside a plan. The raw value is what the store keeps in `audit.action` (and
/// what the hash chain covers), so it never changes for a shipped case.
public enum AuditAction: Hashable, Sendable, RawRepresentable, Codable, CustomStringConvertible {
    /// A change of an applied plan (`create`, `invite`, `revoke-invitation`, …).
    case change(ChangeAction)
    /// The platform redeemed an invitation's token: the user is now active.
    case acceptInvitation
    /// An operator issued a fresh token (`roster invitations resend`).
    case resendInvitation

    public init?(rawValue: String) {
        switch rawValue {
        case "accept-invitation": self = .acceptInvitation
        case "resend-invitation": self = .resendInvitation
        default:
            guard let action = ChangeAction(rawValue: rawValue) else { return nil }
            self = .change(action)
        }
    }

    public var rawValue: String {
        switch self {
        case .change(let action): return action.rawValue
        case .acceptInvitation: return "accept-invitation"
        case .resendInvitation: return "resend-invitation"
        }
    }

    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let action = AuditAction(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown audit action '\(text)'"))
        }
        self = action
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// One audit log record: a change, who made it, when, chained by hash to the one before.
public struct AuditRecord: Codable, Sendable, Hashable {
    /// Rises by exactly one per record, from 1.
    public var sequence: Int
    /// The directory serial the record belongs to: the serial an apply, resend or revoke moved
    /// the store to; for an accepted invitation (the platform's doing, which moves no serial)
    /// the serial the store was at.
    public var serial: Int
    public var at: String
    public var actor: String
    public var commit: String?
    public var action: AuditAction
    public var entityType: EntityType
    public var entityID: String
    /// The change as compact JSON with sorted keys (never a token): a plan's change object, or
    /// for an invitation operation `{"action", "id", "invitationId", "type"}`.
    public var change: String
    public var previousHash: String
    public var hash: String

    public init(sequence: Int, serial: Int, at: String, actor: String, commit: String?, action: AuditAction,
                entityType: EntityType, entityID: String, change: String, previousHash: String, hash: String) {
        self.sequence = sequence
        self.serial = serial
        self.at = at
        self.actor = actor
        self.commit = commit
        self.action = action
        self.entityType = entityType
        self.entityID = entityID
        self.change = change
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// The `change` JSON of audit records that no plan made: one shape for accept, resend and
/// revoke, with the keys a plan's change object starts with.
public enum InvitationAuditChange {
    /// `{"action":…,"id":EMAIL,"invitationId":…,"type":"invitation"}`, keys sorted.
    public static func json(action: AuditAction, email: String, invitationID: String?) -> String {
        var object: [String: String] = ["action": action.rawValue, "id": email, "type": EntityType.invitation.rawValue]
        object["invitationId"] = invitationID
        return CanonicalJSON.compact(object)
    }
}
