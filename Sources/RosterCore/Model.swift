import Foundation

/// Whether a user or scope is declared active or inactive.
public enum DeclaredStatus: String, Sendable, Hashable, CaseIterable {
    case active
    case inactive
}

/// A calendar day in UTC, as written in `expires: 2027-01-31`.
public struct Day: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`; nil when the text is not a real calendar date.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), d >= 1, d <= Day.daysIn(month: m, year: y)
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// Days from 1970-01-01 to this day (Howard Hinnant's days-from-civil), negative before it.
    var daysSince1970: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The UTC day that contains `date`.
    public init(containing date: Date) {
        // Civil-from-days (Howard Hinnant), so no calendar or time zone lookup is involved.
        let days = Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: Day, rhs: Day) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

/// The actions a role grants on one module; `*` stands for every action in the catalogue.
public struct PermissionGrant: Hashable, Sendable {
    public var module: Located<String>
    public var actions: [Located<String>]

    public init(module: Located<String>, actions: [Located<String>]) {
        self.module = module
        self.actions = actions
    }
}

/// A `kind: Role` document.
public struct Role: Sendable {
    public var id: Located<String>
    public var name: String?
    public var description: String?
    public var permissions: [PermissionGrant]
    public var location: SourceLocation

    public init(id: Located<String>, name: String?, description: String?,
                permissions: [PermissionGrant], location: SourceLocation) {
        self.id = id
        self.name = name
        self.description = description
        self.permissions = permissions
        self.location = location
    }
}

/// A `kind: User` document.
public struct User: Sendable {
    /// The email as written; compare through `key`.
    public var email: Located<String>
    public var name: String?
    public var status: DeclaredStatus
    public var previousEmails: [Located<String>]
    public var location: SourceLocation

    public init(email: Located<String>, name: String?, status: DeclaredStatus,
                previousEmails: [Located<String>], location: SourceLocation) {
        self.email = email
        self.name = name
        self.status = status
        self.previousEmails = previousEmails
        self.location = location
    }

    /// The identity of the user: the lower-cased email.
    public var key: String { Syntax.emailKey(email.value) }
}

/// One entry of a `members` list: a user and the roles it holds in the scope.
public struct Member: Sendable {
    public var user: Located<String>
    public var roles: [Located<String>]
    public var expires: Located<Day>?
    public var location: SourceLocation

    public init(user: Located<String>, roles: [Located<String>], expires: Located<Day>?,
                location: SourceLocation) {
        self.user = user
        self.roles = roles
        self.expires = expires
        self.location = location
    }
}

/// A `kind: Customer` document.
public struct Customer: Sendable {
    public var id: Located<String>
    public var name: String?
    public var owner: Located<String>
    public var status: DeclaredStatus
    public var accountLimit: Located<Int>?
    public var members: [Member]
    public var location: SourceLocation

    public init(id: Located<String>, name: String?, owner: Located<String>, status: DeclaredStatus,
                accountLimit: Located<Int>?, members: [Member], location: SourceLocation) {
        self.id = id
        self.name = name
        self.owner = owner
        self.status = status
        self.accountLimit = accountLimit
        self.members = members
        self.location = location
    }
}

/// A `kind: Account` document.
public struct Account: Sendable {
    public var id: Located<String>
    public var customer: Located<String>
    public var name: String?
    public var service: String?
    /// The declared owner; nil means the customer's owner.
    public var owner: Located<String>?
    public var status: DeclaredStatus
    public var memberLimit: Located<Int>?
    public var members: [Member]
    public var location: SourceLocation

    public init(id: Located<String>, customer: Located<String>, name: String?, service: String?,
                owner: Located<String>?, status: DeclaredStatus, memberLimit: Located<Int>?,
                members: [Member], location: SourceLocation) {
        self.id = id
        self.customer = customer
        self.name = name
        self.service = service
        self.owner = owner
        self.status = status
        self.memberLimit = memberLimit
        self.members = members
        self.location = location
    }
}

/// Every document found in the sources, in file order.
public struct Directory: Sendable {
    public var roles: [Role] = []
    public var users: [User] = []
    public var customers: [Customer] = []
    public var accounts: [Account] = []

    public init() {}
}
