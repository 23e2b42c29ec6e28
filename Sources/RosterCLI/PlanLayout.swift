import Foundation
import RosterCore

// MARK: - Shared layout

/// Changes of one customer, one account, or of the directory itself, riskiest first.
struct PlanGroup {
    /// Nil for the directory group: roles, users and invitations.
    var customer: String?
    var account: String?
    /// The group's changes, as indices into the plan's (a first plan has 440,000 changes: the
    /// groups do not copy them).
    var indices: [Int]

    var title: String {
        guard let customer = customer.map(PlanText.visible) else { return "directory" }
        return account.map { "account \(PlanText.visible($0)) (customer \(customer))" } ?? "customer \(customer)"
    }

    /// The directory first, then customers by id, each before its accounts by id; inside a
    /// group by risk, then in plan order.
    static func groups(of plan: Plan) -> [PlanGroup] {
        var members: [Key: [Int]] = [:]
        for (index, change) in plan.changes.enumerated() {
            members[Key(customer: change.customer, account: change.customer == nil ? nil : change.account),
                    default: []].append(index)
        }
        return members.keys.sorted().map { key in
            let indices = (members[key] ?? []).sorted { (plan.changes[$0].risk, $0) < (plan.changes[$1].risk, $1) }
            return PlanGroup(customer: key.customer, account: key.account, indices: indices)
        }
    }

    /// A group's customer and account: the directory (no customer) first, then customers by id,
    /// each (no account) before its accounts by id.
    private struct Key: Hashable, Comparable {
        var customer: String?
        var account: String?

        static func < (a: Key, b: Key) -> Bool {
            if a.customer != b.customer { return precedes(a.customer, b.customer) }
            return precedes(a.account, b.account)
        }

        /// Nil first, then by the text.
        private static func precedes(_ a: String?, _ b: String?) -> Bool {
            guard let b else { return false }
            guard let a else { return true }
            return a < b
        }
    }
}

/// How a part of a line is styled; the text renderer turns styles into ANSI colour.
enum LineStyle { case addition, change, removal, high, medium, strong, note }

/// One change as a reader sees it; user values already made visible (control characters escaped).
struct ChangeLine {
    var symbol: String
    var style: LineStyle
    var verb: String
    var id: String
    var reason: String?
    var fields: [String]
    var drift: Bool
    var risk: Risk
    var source: String?

    init(_ change: Change) {
        switch change.action {
        case .create, .invite, .adopt, .grant, .reactivate: (symbol, style) = ("+", .addition)
        case .update, .rename, .changeRoles, .transferOwnership, .move, .reissueInvitation:
            (symbol, style) = ("~", .change)
        case .revoke, .revokeInvitation, .deactivate: (symbol, style) = ("-", .removal)
        }
        // "revoke-invitation invitation" says the type twice.
        verb = change.action.rawValue.hasSuffix(change.type.rawValue)
            ? change.action.rawValue : "\(change.action.rawValue) \(change.type.rawValue)"
        id = PlanText.visible(change.id)
        fields = Self.fields(of: change)
        // A transfer's or move's reason restates the field that changes.
        let restated = (change.action == .transferOwnership || change.action == .move) && !fields.isEmpty
        reason = restated ? nil : change.reason.map(PlanText.visible)
        drift = change.drift
        risk = change.risk
        source = change.source.map(PlanText.visible)
    }

    /// `~ update role admin  permissions: +streams:delete  [medium]  (directory/roles.yaml:2:5)`.
    func text(_ paint: (String, LineStyle) -> String) -> String {
        var line = paint("\(symbol) \(verb)", style) + " " + id
        if let reason { line += " (\(reason))" }
        if !fields.isEmpty { line += "  " + fields.joined(separator: "; ") }
        if drift { line += "  " + paint("(drift)", .strong) }
        if risk != .low { line += "  " + paint("[\(risk.rawValue)]", risk == .high ? .high : .medium) }
        if let source { line += "  (\(source))" }
        return line
    }

    /// The same as a markdown list item's text, user values escaped.
    func markdownItem() -> String {
        var line = "**\(verb)** \(PlanText.markdown(id))"
        if let reason { line += " (\(PlanText.markdown(reason)))" }
        line += fields.map { " · " + PlanText.markdown($0) }.joined()
        if drift { line += " _(drift)_" }
        if let source { line += " · " + PlanText.code(source) }
        return line
    }

    /// The fields that differ, as `name: old → new`; what a new or ended entity holds.
    static func fields(of change: Change) -> [String] {
        let visible = PlanText.visible, quoted = PlanText.quoted
        var out: [String] = []
        func diff(_ name: String, _ old: String, _ new: String) {
            if old != new { out.append("\(name): \(old) → \(new)") }
        }
        func list(_ values: [String]) -> String { values.isEmpty ? "none" : visible(values.joined(separator: ", ")) }
        switch (change.before, change.after) {
        case let (.role(old)?, .role(new)?):
            diff("name", quoted(old.name), quoted(new.name))
            diff("description", quoted(old.description), quoted(new.description))
            let was = Set(old.grants), now = Set(new.grants)
            let moves = now.subtracting(was).sorted().map { "+" + $0 } + was.subtracting(now).sorted().map { "-" + $0 }
            if !moves.isEmpty { out.append("permissions: " + visible(moves.joined(separator: " "))) }
        case let (.user(old)?, .user(new)?):
            diff("email", visible(old.email), visible(new.email))
            diff("name", quoted(old.name), quoted(new.name))
        // A customer's or account's before and after hold every field; each change shows its own.
        case let (.customer(old)?, .customer(new)?):
            if change.action == .update { diff("name", quoted(old.name), quoted(new.name)) }
            if change.action == .transferOwnership { diff("owner", visible(old.owner), visible(new.owner)) }
        case let (.account(old)?, .account(new)?):
            if change.action == .update {
                diff("name", quoted(old.name), quoted(new.name))
                diff("service", quoted(old.service), quoted(new.service))
            }
            if change.action == .transferOwnership { diff("owner", visible(old.owner), visible(new.owner)) }
            if change.action == .move { diff("customer", visible(old.customer), visible(new.customer)) }
        case let (.membership(old)?, .membership(new)?):
            diff("roles", list(old.roles), list(new.roles))
            diff("expires", old.expires.map(visible) ?? "never", new.expires.map(visible) ?? "never")
        case let (nil, .role(new)?):
            out.append("permissions: " + list(new.grants))
        case let (nil, .customer(new)?):
            out.append("owner: " + visible(new.owner))
        case let (nil, .account(new)?):
            out.append("owner: " + visible(new.owner))
            if let service = new.service { out.append("service: " + quoted(service)) }
        case let (nil, .membership(new)?):
            out.append("roles: " + list(new.roles))
            if let expires = new.expires { out.append("expires: " + visible(expires)) }
        case let (.membership(old)?, nil):
            out.append("roles: " + list(old.roles))
        default:
            break
        }
        if let inviter = change.invitation?.inviter { out.append("invited by " + visible(inviter)) }
        return out
    }
}

/// Wording helpers for plans: sorting, escaping for terminals and markdown, numbers.
enum PlanText {
    /// Access rows by user (ignoring case, as emails compare), scope, direction and
    /// provenance; ties keep plan order.
    static func sortedAccess(_ delta: [AccessChange]) -> [AccessChange] {
        // The planner writes the delta in this order already; checking is one pass, sorting
        // a first plan's 370,000 rows is seconds.
        let inOrder = delta.indices.dropFirst().allSatisfy { index in
            let (a, b) = (delta[index - 1], delta[index])
            let (keyA, keyB) = (a.user.lowercased(), b.user.lowercased())
            return keyA != keyB ? keyA < keyB : !(b < a)
        }
        if inOrder { return delta }
        return delta.enumerated().map { (key: $0.element.user.lowercased(), offset: $0.offset, row: $0.element) }
            .sorted { a, b in
                if a.key != b.key { return a.key < b.key }
                if a.row < b.row || b.row < a.row { return a.row < b.row }
                return a.offset < b.offset
            }.map(\.row)
    }

    /// A user value with control and bidirectional-override characters written as `\u{…}`, so
    /// a hostile name can neither move the terminal's cursor nor break a line.
    static func visible(_ text: String) -> String {
        func hidden(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x20..<0x7F: return false
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C: return true
            default:
                switch scalar.properties.generalCategory {
                case .control, .lineSeparator, .paragraphSeparator: return true
                default: return false
                }
            }
        }
        guard text.unicodeScalars.contains(where: hidden) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if hidden(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Free text in double quotes; `none` when absent.
    static func quoted(_ text: String?) -> String {
        guard let text else { return "none" }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"" + visible(escaped) + "\""
    }

    /// A user value as inline markdown text: nothing in it formats, links or ends a table cell.
    static func markdown(_ text: String) -> String {
        let text = visible(text)
        guard text.utf8.contains(where: { Self.markdownSpecial.contains($0) }) else { return text }
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\\", "`", "*", "_", "[", "]", "|", "~", "#": out += "\\" + String(character)
            default: out.append(character)
            }
        }
        return out
    }

    private static let markdownSpecial = Set("<>&\\`*_[]|~#".utf8)

    /// A code span long enough to hold any backticks in `text`.
    static func code(_ text: String) -> String {
        let text = visible(text)
        var longest = 0
        var run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
        return fence + pad + text + pad + fence
    }

    /// Inside a table a pipe ends the cell even in a code span, unless escaped.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|")
    }

    /// "1 warning", "12,345 warnings".
    static func counted(_ number: Int, _ noun: String) -> String {
        "\(grouped(number)) \(noun)\(number == 1 ? "" : "s")"
    }

    /// `12,345`: the same on every machine, whatever its locale.
    static func grouped(_ number: Int) -> String {
        let digits = Array(String(number.magnitude))
        var out = number < 0 ? "-" : ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }
}
