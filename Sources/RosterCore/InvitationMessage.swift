import Foundation

/// The RFC 5322 invitation email (SPEC §6): composed here, stored in the outbox, delivered later.
public struct InvitationMessage: Sendable, Hashable {
    /// Stable across retries, so receivers can drop duplicates.
    public var messageID: String
    public var to: String
    public var from: String
    public var subject: String
    /// The whole message: headers, a blank line, the body; CRLF line ends.
    public var text: String

    /// Composes the message for `invitation` with its clear `token`.
    public init(invitation: InvitationPlan, invitationID: String, token: String, issuedAt: Date, expiresAt: Date,
                acceptURL: String?, sender: String = "roster@localhost") {
        messageID = "<invitation-\(invitationID)@roster>"
        to = invitation.email
        from = invitation.inviter ?? sender
        let first = invitation.grants.first.map { "\($0.scope.kind.rawValue) \($0.scope.id)" } ?? "the platform"
        subject = "You are invited to \(first)"
        let link = acceptURL.map { $0.replacingOccurrences(of: "{token}", with: token) }
            ?? "roster invitations accept \(token)"
        var body = ["Hello \(invitation.email),", "",
                    "\(invitation.inviter ?? "The platform's administrators") invited you to:", ""]
        for grant in invitation.grants {
            body.append("  - \(grant.scope.kind.rawValue) \(grant.scope.id): \(grant.roles.joined(separator: ", "))")
        }
        body += ["", "Accept the invitation before \(Timestamp.string(expiresAt)):", "", "  \(link)", "",
                 "This link works once. If you did not expect it, ignore this message."]
        let headers = [
            "Message-ID: \(messageID)",
            "Date: \(Self.rfc5322Date(issuedAt))",
            "From: \(from)",
            "To: \(to)",
            "Subject: \(subject)",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        text = (headers + [""] + body).joined(separator: "\r\n") + "\r\n"
    }

    // A formatter is costly to make and safe to share for formatting; a large first apply
    // composes one message per invited user.
    private static let rfc5322: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter
    }()

    static func rfc5322Date(_ date: Date) -> String {
        rfc5322.string(from: date)
    }
}

/// Timestamps as stored and shown: ISO 8601 in UTC, to the second.
public enum Timestamp {
    // Shared: a large first apply formats one per invitation and audit record.
    nonisolated(unsafe) private static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        return formatter
    }()

    public static func string(_ date: Date) -> String {
        formatter.string(from: date)
    }
}
