import Foundation

/// The RFC 5322 invitation email (SPEC §6, §6.1), composed from an outbound invitation when it
/// is delivered: CRLF line ends, a Date and a stable Message-ID, encoded words for names that
/// are not ASCII.
public struct InvitationMessage: Sendable, Hashable {
    /// Stable across retries, so receivers can drop duplicates.
    public var messageID: String
    public var to: String
    public var from: String
    public var replyTo: String?
    public var subject: String
    /// The whole message: headers, a blank line, the body; CRLF line ends.
    public var text: String

    /// Composes the message for `invitation`. With `sender` (`invitations.from`) the mail comes
    /// from the platform with the inviter in its display name and in `Reply-To:` (mail from a
    /// customer's domain sent by the platform's server fails SPF/DMARC); without it, from the
    /// inviter.
    public init(_ invitation: OutboundInvitation, sender: MailAddress? = nil) {
        messageID = invitation.messageID
        to = MailAddress(name: invitation.recipient.name, address: invitation.recipient.email).header
        let inviter = invitation.inviter.map { MailAddress(name: $0.name, address: $0.email) }
        if let sender {
            let shown = [inviter.map { $0.name ?? $0.address }, sender.name].compactMap { $0 }
            from = MailAddress(name: shown.isEmpty ? nil : shown.joined(separator: " via "), address: sender.address).header
            replyTo = inviter?.header
        } else {
            from = inviter?.header ?? "roster@localhost"
            replyTo = nil
        }
        let first = invitation.scopes.first.map { "\($0.type.rawValue) \($0.id)" } ?? "the platform"
        subject = "You are invited to \(first)"
        let link = invitation.acceptURL ?? "roster invitations accept \(invitation.token)"
        let inviterWords = invitation.inviter.map { party in party.name.map { "\($0) (\(party.email))" } ?? party.email }
        var body = ["Hello \(invitation.recipient.name ?? invitation.recipient.email),", "",
                    "\(inviterWords ?? "The platform's administrators") invited you to:", ""]
        for scope in invitation.scopes {
            body.append("  - \(scope.type.rawValue) \(scope.id)\(scope.name.map { " (\($0))" } ?? ""): "
                        + scope.roles.joined(separator: ", "))
        }
        body += ["", "Accept the invitation before \(Timestamp.string(invitation.expiresAt)):", "", "  \(link)", "",
                 "This link works once. If you did not expect it, ignore this message."]
        var headers = [
            "Message-ID: \(messageID)",
            "Date: \(Self.rfc5322Date(invitation.issuedAt))",
            "From: \(from)",
        ]
        if let replyTo { headers.append("Reply-To: \(replyTo)") }
        headers += [
            "To: \(to)",
            "Subject: \(MailAddress.encodedWord(subject))",
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

    /// `Mon, 23 Nov 2026 12:00:00 +0000`, as mail and HTTP dates are written. Written by hand
    /// like `Timestamp.string` (a delivery run writes one per message, and the shared formatter
    /// serialized the cores); the formatter is for the years outside 1583–9999.
    public static func rfc5322Date(_ date: Date) -> String {
        guard let (day, second) = Timestamp.gregorian(date) else { return rfc5322.string(from: date) }
        var text = TextDigits()
        // 1 January 1970 was a Thursday.
        text.append(["Thu, ", "Fri, ", "Sat, ", "Sun, ", "Mon, ", "Tue, ", "Wed, "][(day.daysSince1970 % 7 + 7) % 7])
        text.digits(day.day, 2)
        text.append([" Jan ", " Feb ", " Mar ", " Apr ", " May ", " Jun ", " Jul ", " Aug ", " Sep ", " Oct ", " Nov ",
                     " Dec "][day.month - 1])
        text.digits(day.year, 4); text.append(" ")
        text.time(second); text.append(" +0000")
        return text.string
    }
}

/// ASCII text made of fixed pieces and zero-padded numbers.
struct TextDigits {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(32) }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ piece: StaticString) {
        piece.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `value` in `count` digits, zeros in front.
    mutating func digits(_ value: Int, _ count: Int) {
        var divisor = 1
        for _ in 1..<count { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    /// `HH:mm:ss` of the `second` of a day.
    mutating func time(_ second: Int) {
        digits(second / 3600, 2); append(":"); digits(second / 60 % 60, 2); append(":"); digits(second % 60, 2)
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

    /// `2026-11-23T12:00:00Z`: the second the date falls in. Written by hand (a first apply
    /// writes one per invitation, and a delivery run reads two per message); the formatter is
    /// only for years outside 1583–9999 (before 1583 it counts in the Julian calendar).
    public static func string(_ date: Date) -> String {
        guard let (day, second) = gregorian(date) else { return formatter.string(from: date) }
        var text = TextDigits()
        text.digits(day.year, 4); text.append("-"); text.digits(day.month, 2); text.append("-")
        text.digits(day.day, 2); text.append("T")
        text.time(second); text.append("Z")
        return text.string
    }

    /// The UTC day `date` falls in and the second of that day; nil outside the years 1583–9999,
    /// which the formatters write (before 1583 in the Julian calendar).
    static func gregorian(_ date: Date) -> (day: Day, second: Int)? {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite, abs(seconds) < 2.6e11 else { return nil }
        let day = Day(containing: date)
        guard (1583...9999).contains(day.year) else { return nil }
        return (day, Int(seconds) - day.daysSince1970 * 86_400)
    }

    /// Reads a timestamp written by `string(_:)`; other ISO 8601 forms go through the formatter.
    public static func date(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard b[index] >= UInt8(ascii: "0"), b[index] <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(b[index] - UInt8(ascii: "0"))
            }
            return value
        }
        guard b.count == 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "Z") else {
            return formatter.date(from: text)
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...Day.daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60 else { return nil }
        guard year >= 1583 else { return formatter.date(from: text) }
        let days = Day(year: year, month: month, day: day).daysSince1970
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second))
    }
}

/// A mailbox (`Name <address>`) as `invitations.from` and the message headers write it.
public struct MailAddress: Sendable, Hashable {
    public var name: String?
    public var address: String

    public init(name: String?, address: String) {
        self.name = name.flatMap { $0.isEmpty ? nil : $0 }
        self.address = address
    }

    /// Reads `Name <address>`, `"Name" <address>` or a bare `address`; nil when there is no
    /// plausible address (one `@`, no spaces or angle brackets in it).
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var name: String?
        var address = trimmed
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var shown = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if shown.count >= 2, shown.hasPrefix("\""), shown.hasSuffix("\"") {
                shown = String(shown.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            name = shown.isEmpty ? nil : shown
        }
        guard Syntax.isEmail(address) else { return nil }
        self.init(name: name, address: address)
    }

    /// The header form: the address alone, or the display name (quoted, or as an RFC 2047
    /// encoded word when it is not ASCII) and the address in angle brackets.
    public var header: String {
        guard let name else { return address }
        let shown: String
        if !name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }) {
            shown = Self.encodedWord(name)
        } else if name.utf8.allSatisfy({ Self.isAtomText($0) }) {
            shown = name
        } else {
            shown = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "\(shown) <\(address)>"
    }

    /// A letter, a digit, a space or one of RFC 5322's `atext` signs: a display name of only
    /// these needs no quotes.
    private static func isAtomText(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            " !#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    /// `text` unchanged when it is printable ASCII, else one RFC 2047 `=?UTF-8?B?…?=` word
    /// (split in words of at most 75 characters, on whole characters).
    public static func encodedWord(_ text: String) -> String {
        guard !text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }) else { return text }
        var words: [String] = []
        var chunk = ""
        for character in text {
            let candidate = chunk + String(character)
            // 45 bytes of UTF-8 encode to 60 characters of base64, inside the 75 allowed.
            if candidate.utf8.count > 45 && !chunk.isEmpty {
                words.append("=?UTF-8?B?" + Data(chunk.utf8).base64EncodedString() + "?=")
                chunk = String(character)
            } else {
                chunk = candidate
            }
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Data(chunk.utf8).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }
}
