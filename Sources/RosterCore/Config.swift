import Foundation

/// A threshold written as an absolute number (`10`) or a share (`10%`).
public enum Threshold: Hashable, Sendable, CustomStringConvertible {
    case count(Int)
    case percent(Double)

    /// The largest number allowed out of `total`.
    public func limit(of total: Int) -> Int {
        switch self {
        case .count(let n): return n
        case .percent(let p): return Int((Double(total) * p / 100).rounded(.down))
        }
    }

    public var description: String {
        switch self {
        case .count(let n): return String(n)
        case .percent(let p):
            return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        }
    }
}

/// Where invitation messages go (SPEC §6.1).
public enum DeliverySettings: Hashable, Sendable {
    /// One `.eml` file per message in a folder (relative to roster.yaml).
    case file(path: String)
    /// One signed HTTP POST per message.
    case webhook(WebhookSettings)
    /// The message on the standard input of a sendmail-compatible command.
    case sendmail(SendmailSettings)

    /// `file`, `webhook` or `sendmail`, as roster.yaml names the kind.
    public var kind: String {
        switch self {
        case .file: return "file"
        case .webhook: return "webhook"
        case .sendmail: return "sendmail"
        }
    }
}

/// A webhook receiver (invitation delivery, or an events endpoint).
public struct WebhookSettings: Hashable, Sendable {
    /// `https://…`, or `http://` to a loopback address (`WebhookURL.isAllowed`).
    public var url: String
    /// The environment variable holding the `whsec_` secret; never the secret itself.
    public var secretEnv: String
    /// Seconds an attempt may take.
    public var timeout: Int

    public init(url: String, secretEnv: String, timeout: Int = 15) {
        self.url = url
        self.secretEnv = secretEnv
        self.timeout = timeout
    }
}

/// A sendmail-compatible command.
public struct SendmailSettings: Hashable, Sendable {
    /// Split into words as a shell would; no shell runs it.
    public var command: String
    /// Seconds before the command is killed (a temporary failure).
    public var timeout: Int

    public static let defaultCommand = "/usr/sbin/sendmail -t -i"

    public init(command: String = SendmailSettings.defaultCommand, timeout: Int = 30) {
        self.command = command
        self.timeout = timeout
    }
}

/// Which webhook URLs roster sends to: https anywhere, plain http only on this machine.
public enum WebhookURL {
    /// Whether `url` is `https://HOST…`, or `http://` to `127.0.0.0/8`, `[::1]` or `localhost`.
    public static func isAllowed(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host?.lowercased(), !host.isEmpty else { return false }
        switch scheme {
        case "https": return true
        case "http": return isLoopback(host)
        default: return false
        }
    }

    /// `localhost`, `::1` (with or without brackets) or an IPv4 address in 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        let host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in UInt8(part).map { String($0) == part } ?? false }
    }
}

/// The `invitations` block of roster.yaml.
public struct InvitationSettings: Hashable, Sendable {
    /// Time to live, in seconds.
    public var ttl: Int = 7 * 86_400
    public var reissueExpired = true
    public var maxReissues = 3
    public var acceptURL: String?
    /// `invitations.from`: the platform's sender; nil sends from the inviter.
    public var from: MailAddress?
    public var delivery: DeliverySettings = .file(path: ".roster/outbox")

    public init() {}
}

/// The `safety` block of roster.yaml (SPEC §5.3).
public struct SafetySettings: Hashable, Sendable {
    public var maxUserDeactivations: Threshold = .percent(10)
    public var maxMembershipRemovals: Threshold = .percent(25)

    public init() {}
}

/// An address `roster serve` listens on: `HOST:PORT`, an IPv6 host in brackets.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:8080`, `localhost:8080`, `[::1]:8080`; nil for anything else. Port 0 (any free
    /// port) is allowed only when `allowAnyPort` (the command line, for tests and scripts).
    public init?(parsing text: String, allowAnyPort: Bool = false) {
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard !host.contains(":"),
                  host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) else { return nil }
        }
        guard !host.isEmpty, !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }),
              let number = Int(port), number <= 65_535, number > 0 || allowAnyPort else { return nil }
        self.host = String(host)
        self.port = number
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The `serve` block of roster.yaml (SPEC §12).
public struct ServeSettings: Hashable, Sendable {
    public static let defaultListen = ListenAddress(host: "127.0.0.1", port: 8080)
    public static let defaultTokensEnv = "ROSTER_SERVE_TOKENS"

    public var listen: ListenAddress = ServeSettings.defaultListen
    /// The variable holding the API tokens, comma-separated; never the tokens themselves.
    public var tokensEnv: String = ServeSettings.defaultTokensEnv

    public init() {}
}

/// The `limits` block of roster.yaml: defaults that a customer or account may override.
public struct LimitSettings: Hashable, Sendable {
    public var accountsPerCustomer = 10
    public var membersPerAccount = 200

    public init() {}
}

/// The permissions catalogue: every module and the actions a role may grant on it.
public struct Catalogue: Sendable {
    /// Modules in declaration order, each with its actions in declaration order.
    public var modules: [(name: Located<String>, actions: [Located<String>])] = []

    public init() {}

    /// The actions of a module, or nil when the module is not in the catalogue.
    public func actions(of module: String) -> [String]? {
        modules.first { $0.name.value == module }.map { $0.actions.map(\.value) }
    }
}

/// The contents of roster.yaml.
public struct Config: Sendable {
    /// Sources as written, relative to the folder that holds roster.yaml.
    public var sources: [Located<String>] = []
    /// The `state` URL as written, if any.
    public var state: String?
    public var permissions = Catalogue()
    public var invitations = InvitationSettings()
    public var safety = SafetySettings()
    public var limits = LimitSettings()
    /// `events:`: the endpoints that hear of every change (SPEC §11), in the order written.
    public var events: [EventEndpoint] = []
    /// `serve:`: where `roster serve` listens and where its tokens are.
    public var serve = ServeSettings()

    public init() {}
}

/// Durations written with s, m, h and d units.
public enum DurationSyntax {
    /// Seconds in `text` (`7d`, `1d12h`, `90s`); nil when it is not a duration.
    public static func seconds(parsing text: String) -> Int? {
        var total = 0
        var number = 0
        var digits = 0
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                guard digits < 9 else { return nil }
                number = number * 10 + digit
                digits += 1
                continue
            }
            let unit: Int
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            default: return nil
            }
            guard digits > 0 else { return nil }
            total += number * unit
            number = 0
            digits = 0
        }
        return digits == 0 && !text.isEmpty ? total : nil
    }
}
