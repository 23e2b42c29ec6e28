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

/// Where invitation messages go (SPEC §6).
public enum DeliverySettings: Hashable, Sendable {
    case file(path: String)
    case webhook(url: String, secretEnv: String?)
    case sendmail(command: String)
}

/// The `invitations` block of roster.yaml.
public struct InvitationSettings: Hashable, Sendable {
    /// Time to live, in seconds.
    public var ttl: Int = 7 * 86_400
    public var reissueExpired = true
    public var maxReissues = 3
    public var acceptURL: String?
    public var delivery: DeliverySettings = .file(path: ".roster/outbox")

    public init() {}
}

/// The `safety` block of roster.yaml (SPEC §5.3).
public struct SafetySettings: Hashable, Sendable {
    public var maxUserDeactivations: Threshold = .percent(10)
    public var maxMembershipRemovals: Threshold = .percent(25)

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
