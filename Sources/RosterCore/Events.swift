import Foundation

/// The event types of SPEC §11: `<entity>.<what happened>`, one per kind of audit record.
public enum EventType: String, CaseIterable, Sendable, Codable, Comparable {
    case roleCreated = "role.created", roleUpdated = "role.updated", roleDeactivated = "role.deactivated"
    case roleReactivated = "role.reactivated"
    case userInvited = "user.invited", userActivated = "user.activated", userRenamed = "user.renamed"
    case userUpdated = "user.updated", userDeactivated = "user.deactivated", userReactivated = "user.reactivated"
    case userAdopted = "user.adopted"
    case customerCreated = "customer.created", customerUpdated = "customer.updated"
    case customerOwnershipTransferred = "customer.ownership_transferred", customerDeactivated = "customer.deactivated"
    case customerReactivated = "customer.reactivated"
    case accountCreated = "account.created", accountUpdated = "account.updated", accountMoved = "account.moved"
    case accountOwnershipTransferred = "account.ownership_transferred", accountDeactivated = "account.deactivated"
    case accountReactivated = "account.reactivated"
    case membershipGranted = "membership.granted", membershipRolesChanged = "membership.roles_changed"
    case membershipRevoked = "membership.revoked"
    case invitationReissued = "invitation.reissued", invitationResent = "invitation.resent"
    case invitationRevoked = "invitation.revoked"

    public static func < (lhs: EventType, rhs: EventType) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The entity part: `user` of `user.deactivated`.
    public var entity: String { String(rawValue.prefix { $0 != "." }) }

    /// The type of an audit record; nil for a record no event type names (none today).
    public init?(action: AuditAction, entity: EntityType) {
        let type: EventType?
        switch (action, entity) {
        case (.acceptInvitation, _): type = .userActivated
        case (.resendInvitation, _): type = .invitationResent
        case (.change(.reissueInvitation), _): type = .invitationReissued
        case (.change(.revokeInvitation), _): type = .invitationRevoked
        case (.change(.invite), .user): type = .userInvited
        case (.change(.adopt), .user): type = .userAdopted
        case (.change(.rename), .user): type = .userRenamed
        case (.change(.grant), .membership): type = .membershipGranted
        case (.change(.changeRoles), .membership): type = .membershipRolesChanged
        case (.change(.revoke), .membership): type = .membershipRevoked
        case (.change(.move), .account): type = .accountMoved
        case (.change(.transferOwnership), .customer): type = .customerOwnershipTransferred
        case (.change(.transferOwnership), .account): type = .accountOwnershipTransferred
        case (.change(let change), _):
            let verb: String
            switch change {
            case .create: verb = "created"
            case .update: verb = "updated"
            case .deactivate: verb = "deactivated"
            case .reactivate: verb = "reactivated"
            default: return nil
            }
            type = EventType(rawValue: "\(entity.rawValue).\(verb)")
        }
        guard let type else { return nil }
        self = type
    }
}

/// Why a membership ended, as `membership.revoked` events say it (`data.change.reason`).
public enum RevokeReason: String, Sendable {
    case removed, expired
    case userDeactivated = "user-deactivated"
    case scopeDeactivated = "scope-deactivated"

    /// The reason of a plan's revoke change (`expired 2027-01-31`, `user deactivated`, …).
    public init(planReason: String?) {
        let reason = planReason ?? ""
        if reason.hasPrefix("expired") {
            self = .expired
        } else if reason.hasPrefix("user ") {
            self = .userDeactivated
        } else if reason.hasPrefix("customer ") || reason.hasPrefix("account ") {
            self = .scopeDeactivated
        } else {
            self = .removed
        }
    }
}

/// A `types` filter: an event type, `ENTITY.*`, or `*`.
public struct EventTypePattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    /// Nil when the pattern names no known type; `suggestion` is then the closest one, if any.
    public init?(_ text: String) {
        if text == "*" || EventType(rawValue: text) != nil || (text.hasSuffix(".*")
            && EventType.allCases.contains { $0.entity == String(text.dropLast(2)) }) {
            self.text = text
        } else {
            return nil
        }
    }

    /// The closest known pattern to a misspelt one.
    public static func suggestion(for text: String) -> String? {
        let entities = Set(EventType.allCases.map(\.entity)).sorted().map { "\($0).*" }
        return Suggestion.closest(to: text, in: EventType.allCases.map(\.rawValue) + entities)
    }

    public func matches(_ type: EventType) -> Bool {
        text == "*" || text == type.rawValue || (text.hasSuffix(".*") && type.entity == String(text.dropLast(2)))
    }

    public var description: String { text }
}

/// One event: an audit record in the shape a webhook receives (SPEC §11).
public struct Event: Sendable, Hashable {
    public var record: AuditRecord
    public var type: EventType

    public init?(_ record: AuditRecord) {
        guard let type = EventType(action: record.action, entity: record.entityType) else { return nil }
        self.record = record
        self.type = type
    }

    /// The stable id of every attempt to send it: `evt_<lineage>_<seq>`.
    public func webhookID(lineage: String) -> String {
        "evt_\(lineage)_\(record.sequence)"
    }

    /// `{"data":{"actor","change","commit","seq","serial"},"timestamp","type"}`: one line, keys
    /// sorted, the same bytes every time. `change` is the record's change as the plan's JSON
    /// writes it; a revoked membership's `reason` is one of `RevokeReason`. Never a token: no
    /// audit record holds one.
    public func body() throws -> [UInt8] {
        var change = record.change
        if type == .membershipRevoked {
            var decoded = try JSONDecoder().decode(Change.self, from: Data(change.utf8))
            decoded.reason = RevokeReason(planReason: decoded.reason).rawValue
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            change = String(decoding: try encoder.encode(decoded), as: UTF8.self)
        }
        var out = #"{"data":{"actor":"# + CanonicalJSON.quoted(record.actor) + #","change":"# + change
        out += #","commit":"# + (record.commit.map(CanonicalJSON.quoted) ?? "null")
        out += #","seq":\#(record.sequence),"serial":\#(record.serial)},"timestamp":"# + CanonicalJSON.quoted(record.at)
        out += #","type":"# + CanonicalJSON.quoted(type.rawValue) + "}"
        return Array(out.utf8)
    }

    /// `#42 2026-12-01T10:00:00Z user.deactivated dan@partner.example by ci-bot (serial 7)`.
    public var line: String {
        "#\(record.sequence) \(record.at) \(type.rawValue) \(record.entityID) by \(record.actor) (serial \(record.serial))"
    }
}

/// An events endpoint of roster.yaml (`events:`): a receiver of the feed.
public struct EventEndpoint: Sendable, Hashable {
    /// A slug, unique among the endpoints: the key of its cursor in the store.
    public var name: String
    public var webhook: WebhookSettings
    /// Empty: every type.
    public var types: [EventTypePattern]
    /// Where a new endpoint starts: after the last record (`now`) or at the first (`start`).
    public var fromStart: Bool

    public init(name: String, webhook: WebhookSettings, types: [EventTypePattern], fromStart: Bool) {
        self.name = name
        self.webhook = webhook
        self.types = types
        self.fromStart = fromStart
    }

    public func wants(_ type: EventType) -> Bool {
        types.isEmpty || types.contains { $0.matches(type) }
    }
}
