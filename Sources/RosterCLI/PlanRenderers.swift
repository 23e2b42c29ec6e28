import Foundation
import RosterCore

/// One output format for plans; every format sits behind this protocol.
protocol PlanRenderer {
    /// The `--format` value that selects this renderer.
    static var identifier: String { get }
    func render(_ plan: Plan) -> String
}

// MARK: - Text

/// For a reviewer at a terminal: blocked rails, warnings, changes grouped by customer and
/// account with the riskiest first, the access delta, and the summary line last.
struct TextPlanRenderer: PlanRenderer {
    static let identifier = "text"
    /// Access rows shown before pointing at `--format json`, so a huge plan stays readable.
    static let accessRowLimit = 200
    var color: Bool
    /// The command that made the plan, named in "… --format json" hints.
    var command = "roster plan"

    func render(_ plan: Plan) -> String {
        var sections: [String] = []
        let blocked = plan.blockedRails
        if !blocked.isEmpty {
            sections.append(blocked.map { rail in
                "\(paint("BLOCKED", .high)) \(PlanText.visible(rail.rail)): \(PlanText.visible(rail.message)); "
                    + "apply needs --allow \(PlanText.visible(rail.rail))\n"
            }.joined())
        }
        if !plan.warnings.isEmpty {
            sections.append(plan.warnings.map { "\(paint("warning:", .change)) \(PlanText.visible($0))\n" }.joined())
        }
        var customer: String?
        for group in PlanGroup.groups(of: plan) {
            var text = ""
            var indent = "  "
            if group.customer == nil {
                text += paint("Directory", .strong) + "\n"
            } else {
                if group.customer != customer {
                    text += paint("Customer \(PlanText.visible(group.customer ?? ""))", .strong) + "\n"
                }
                if let account = group.account {
                    text += "  " + paint("Account \(PlanText.visible(account))", .strong) + "\n"
                    indent = "    "
                }
            }
            for change in group.changes {
                text += indent + ChangeLine(change).text(paint) + "\n"
            }
            // A blank line between customers; a customer's accounts stay together.
            if group.customer != nil && group.customer == customer, let last = sections.indices.last {
                sections[last] += text
            } else {
                sections.append(text)
            }
            customer = group.customer
        }
        if !plan.accessDelta.isEmpty {
            sections.append(access(plan.accessDelta))
        }
        sections.append(plan.summary.line + "\n")
        return sections.joined(separator: "\n")
    }

    private func access(_ delta: [AccessChange]) -> String {
        var text = paint("Access changes", .strong) + "\n"
        var user: String?
        for (index, row) in PlanText.sortedAccess(delta).enumerated() {
            if index == Self.accessRowLimit {
                text += "  … \(PlanText.counted(delta.count - index, "more access change")) not shown; "
                    + "\(command) --format json lists them all.\n"
                break
            }
            if row.user != user {
                text += "  \(PlanText.visible(row.user))\n"
                user = row.user
            }
            let gain = row.change == .gain
            let permissions = PlanText.visible(row.permissions.joined(separator: ", "))
            text += "    " + paint(gain ? "+" : "-", gain ? .addition : .removal)
                + " \(permissions) on \(PlanText.visible(row.scope.description))  via \(PlanText.visible(row.via))"
                + (row.source.map { " (\(PlanText.visible($0)))" } ?? "") + "\n"
        }
        return text
    }

    private func paint(_ text: String, _ style: LineStyle) -> String {
        guard color else { return text }
        let code: String
        switch style {
        case .addition: code = "32"
        case .change: code = "33"
        case .removal: code = "31"
        case .high: code = "1;31"
        case .medium: code = "1;33"
        case .strong: code = "1"
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}

// MARK: - Markdown

/// A pull-request comment: summary, blocked rails, high-risk changes, who gains and loses
/// access, then every change folded away; always shorter than `limit` characters.
struct MarkdownPlanRenderer: PlanRenderer {
    static let identifier = "markdown"
    var limit = 60_000
    /// The command that made the plan, named in the heading and in "run … --format json" hints.
    var command = "roster plan"

    private enum DetailLevel: CaseIterable { case all, withoutLowRisk, none }

    func render(_ plan: Plan) -> String {
        let head = self.head(plan)
        if plan.isEmpty && plan.warnings.isEmpty && plan.accessDelta.isEmpty { return fit(head) }
        let rails = self.rails(plan.blockedRails)
        // Each change as its diff line, made once for every level of detail.
        let lines = PlanGroup.groups(of: plan).flatMap { group in
            group.changes.map { (group: group, change: $0, text: ChangeLine($0).text { text, _ in text }) }
        }
        let risky = FoldableList(
            title: "#### High-risk changes\n\n", tableHead: "", what: "high-risk change",
            rows: lines.filter { $0.change.risk == .high }.map { "- " + ChangeLine($0.change).markdownItem() + "\n" }, command: command)
        let access = FoldableList(
            title: "#### Access changes\n\n",
            tableHead: "| user | change | permissions | on | via | declared at |\n|---|---|---|---|---|---|\n",
            what: "access change",
            rows: PlanText.sortedAccess(plan.accessDelta).map { row in
                "| \(PlanText.markdown(row.user)) | \(row.change == .gain ? "gains" : "**loses**") "
                    + "| \(PlanText.markdown(row.permissions.joined(separator: ", "))) "
                    + "| \(PlanText.markdown(row.scope.description)) | \(PlanText.markdown(row.via)) "
                    + "| \(row.source.map { PlanText.cell(PlanText.code($0)) } ?? "") |\n"
            }, command: command)
        let warnings = FoldableList(title: "#### Warnings\n\n", tableHead: "", what: "warning",
                                    rows: plan.warnings.map { "- \(PlanText.markdown($0))\n" }, command: command)
        let details = Dictionary(uniqueKeysWithValues: DetailLevel.allCases.map { ($0, self.details($0, lines)) })
        func document(_ notice: String, risky riskyRows: Int, access accessRows: Int, warnings warningRows: Int,
                      _ level: DetailLevel) -> String {
            head + notice + rails + warnings.text(showing: warningRows) + risky.text(showing: riskyRows)
                + access.text(showing: accessRows) + (details[level] ?? "")
        }
        let full = document("", risky: risky.rows.count, access: access.rows.count, warnings: warnings.rows.count, .all)
        if full.count < limit { return full }

        // Fold: each list in order of importance takes what fits once the lists after it are
        // reserved their shortest form; the change list goes first, low-risk detail before the rest.
        let notice = "_Parts of this plan are folded to keep the comment under \(PlanText.grouped(limit)) characters; "
            + "each fold says what it leaves out._\n\n"
        let folded = (details[.none] ?? "").count
        var budget = limit - 1 - head.count - notice.count - rails.count - folded
            - [risky, access, warnings].reduce(0) { $0 + $1.length(showing: 0) }
        func take(_ list: FoldableList) -> Int {
            budget += list.length(showing: 0)
            let count = list.largestShown(within: budget)
            budget -= list.length(showing: count)
            return count
        }
        let riskyRows = take(risky)
        let accessRows = take(access)
        let warningRows = take(warnings)
        let level = DetailLevel.allCases.first { (details[$0] ?? "").count <= budget + folded } ?? .none
        return fit(document(notice, risky: riskyRows, access: accessRows, warnings: warningRows, level))
    }

    private func head(_ plan: Plan) -> String {
        var text = "### \(command)\n\n**\(PlanText.markdown(plan.summary.line))**\n\n"
        // `roster diff` plans from a revision of the files, not from a store.
        text += (plan.store.backend == "git"
            ? "From the files at commit \(PlanText.code(plan.store.lineage)) to the files "
            : "Against the \(PlanText.markdown(plan.store.backend)) store "
                + "(lineage \(PlanText.code(plan.store.lineage)), serial \(plan.store.serial)); files ")
            + (plan.desired.commit.map { "at commit \(PlanText.code($0)), " } ?? "")
            + "digest \(PlanText.code(String(plan.desired.digest.prefix(12)))).\n\n"
        guard !plan.isEmpty else { return text }
        text += "| action | count |\n|---|---:|\n"
        for action in ChangeAction.allCases {
            if let count = plan.summary.counts[action.rawValue], count > 0 {
                text += "| \(action.rawValue) | \(PlanText.grouped(count)) |\n"
            }
        }
        return text + "\n"
    }

    private func rails(_ blocked: [RailCheck]) -> String {
        guard !blocked.isEmpty else { return "" }
        return "#### Blocked safety rails\n\n`roster apply` refuses this plan unless each of these is allowed:\n\n"
            + "| rail | why | to allow |\n|---|---|---|\n"
            + blocked.map { rail in
                "| \(PlanText.markdown(rail.rail)) | \(PlanText.markdown(rail.message)) "
                    + "| \(PlanText.cell(PlanText.code("--allow \(rail.rail)"))) |\n"
            }.joined()
            + "\n"
    }

    private func details(_ level: DetailLevel, _ lines: [(group: PlanGroup, change: Change, text: String)]) -> String {
        guard !lines.isEmpty else { return "" }
        let json = "run `\(command) --format json` for the full plan._\n\n"
        let kept = level == .all ? lines : lines.filter { $0.change.risk != .low }
        if level == .none || kept.isEmpty {
            let all = lines.count == 1 ? "The one change" : "The list of all \(PlanText.counted(lines.count, "change"))"
            return "_\(all) is folded; " + json
        }
        let summary = level == .all
            ? (lines.count == 1 ? "The one change" : "All \(PlanText.counted(lines.count, "change"))")
            : "The \(PlanText.counted(kept.count, "medium- or high-risk change")) of \(PlanText.grouped(lines.count))"
        var text = "<details><summary>\(summary)</summary>\n\n```diff\n"
        var current: PlanGroup?
        for (group, _, line) in kept {
            if current?.customer != group.customer || current?.account != group.account || current == nil {
                text += "@@ \(group.title) @@\n"
                current = group
            }
            text += line + "\n"
        }
        text += "```\n\n</details>\n\n"
        if level == .withoutLowRisk {
            text += "_\(PlanText.counted(lines.count - kept.count, "low-risk change")) not shown; " + json
        }
        return text
    }

    /// The last resort when even the folded plan is too long: whole lines up to the limit.
    private func fit(_ text: String) -> String {
        guard text.count >= limit else { return text }
        let marker = "\n_Cut to stay under \(PlanText.grouped(limit)) characters; "
            + "run `\(command) --format json` for the full plan._\n"
        guard limit > marker.count + 1 else { return String(text.prefix(max(0, limit - 1))) }
        var out = ""
        var used = marker.count
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard used + line.count + 1 < limit else { break }
            out += line + "\n"
            used += line.count + 1
        }
        return out + marker
    }
}

/// A markdown list or table that shows its first rows and says how many it leaves out.
private struct FoldableList {
    var title: String
    var tableHead: String
    /// The singular noun for a row: "access change".
    var what: String
    var rows: [String]
    var command: String
    private var prefixLength: [Int]

    init(title: String, tableHead: String, what: String, rows: [String], command: String) {
        self.command = command
        self.title = title
        self.tableHead = tableHead
        self.what = what
        self.rows = rows
        var sum = 0
        prefixLength = [0] + rows.map { sum += $0.count; return sum }
    }

    private func note(showing count: Int) -> String {
        guard count < rows.count else { return "" }
        let omitted = PlanText.counted(rows.count - count, (count > 0 ? "more " : "") + what)
        return (count > 0 ? "\n" : "") + "_\(omitted) not shown; run `\(command) --format json` for the full plan._\n"
    }

    func length(showing count: Int) -> Int {
        guard !rows.isEmpty else { return 0 }
        return title.count + (count > 0 ? tableHead.count + prefixLength[count] : 0) + note(showing: count).count + 1
    }

    func text(showing count: Int) -> String {
        guard !rows.isEmpty else { return "" }
        return title + (count > 0 ? tableHead + rows.prefix(count).joined() : "") + note(showing: count) + "\n"
    }

    /// The most rows that fit in `budget` characters, note included; 0 when nothing fits.
    func largestShown(within budget: Int) -> Int {
        var best = 0
        for count in 0...rows.count where length(showing: count) <= budget { best = count }
        return best
    }
}

// MARK: - JSON

/// The saved-plan format (SPEC §4.3): stable keys and order, byte-identical for the same inputs.
struct JSONPlanRenderer: PlanRenderer {
    static let identifier = "json"

    func render(_ plan: Plan) -> String {
        guard let data = try? plan.jsonData() else { return "{}\n" }
        return String(decoding: data, as: UTF8.self)
    }
}

// MARK: - Shared layout

/// Changes of one customer, one account, or of the directory itself, riskiest first.
private struct PlanGroup {
    /// Nil for the directory group: roles, users and invitations.
    var customer: String?
    var account: String?
    var changes: [Change]

    var title: String {
        guard let customer = customer.map(PlanText.visible) else { return "directory" }
        return account.map { "account \(PlanText.visible($0)) (customer \(customer))" } ?? "customer \(customer)"
    }

    /// The directory first, then customers by id, each before its accounts by id; inside a
    /// group by risk, then in plan order.
    static func groups(of plan: Plan) -> [PlanGroup] {
        var members: [[String]: [Int]] = [:]
        for (index, change) in plan.changes.enumerated() {
            let key = change.customer.map { [$0] + (change.account.map { [$0] } ?? []) } ?? []
            members[key, default: []].append(index)
        }
        return members.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { key in
            let indices = (members[key] ?? []).sorted { (plan.changes[$0].risk, $0) < (plan.changes[$1].risk, $1) }
            return PlanGroup(customer: key.first, account: key.count > 1 ? key[1] : nil,
                             changes: indices.map { plan.changes[$0] })
        }
    }
}

/// How a part of a line is styled; the text renderer turns styles into ANSI colour.
private enum LineStyle { case addition, change, removal, high, medium, strong }

/// One change as a reader sees it; user values already made visible (control characters escaped).
private struct ChangeLine {
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
        case .create, .invite, .grant, .reactivate: (symbol, style) = ("+", .addition)
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
private enum PlanText {
    /// Access rows by user (ignoring case, as emails compare), scope, direction and
    /// provenance; ties keep plan order.
    static func sortedAccess(_ delta: [AccessChange]) -> [AccessChange] {
        delta.enumerated().map { (key: $0.element.user.lowercased(), offset: $0.offset, row: $0.element) }
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
