import Foundation
import RosterCore

/// One output format for plans; every format sits behind this protocol.
protocol PlanRenderer {
    /// The `--format` value that selects this renderer.
    static var identifier: OutputFormat { get }
    func render(_ plan: Plan) -> String
    /// Writes the rendering to `out`; a renderer that can stream overrides it.
    func write(_ plan: Plan, to out: TextSink)
}

extension PlanRenderer {
    func write(_ plan: Plan, to out: TextSink) {
        out.write(render(plan))
    }
}

/// Every plan renderer, resolved by identifier (`--format`) in one place; `PlanFormats` lists
/// the formats offered, text stands for any other.
enum PlanRenderers {
    /// `command` is named in the hints of folded output (`roster plan`, `roster diff`).
    static func renderer(for format: OutputFormat, color: Bool, command: String) -> any PlanRenderer {
        switch format {
        case JSONPlanRenderer.identifier: return JSONPlanRenderer()
        case MarkdownPlanRenderer.identifier: return MarkdownPlanRenderer(command: command)
        default: return TextPlanRenderer(color: color, command: command)
        }
    }
}

// MARK: - Text

/// For a reviewer at a terminal: blocked rails, warnings, changes grouped by customer and
/// account with the riskiest first, the access delta, and the summary line last.
struct TextPlanRenderer: PlanRenderer {
    static let identifier = OutputFormat.text
    /// Access rows shown before pointing at `--format json`, so a huge plan stays readable.
    static let accessRowLimit = 200
    var color: Bool
    /// The command that made the plan, named in "… --format json" hints.
    var command = "roster plan"
    /// How many change lines are rendered at a time, on every core.
    var linesPerWindow = 8_192

    func render(_ plan: Plan) -> String {
        var text = ""
        render(plan) { text += $0 }
        return text
    }

    /// Streamed a mebibyte at a time: a first plan of a large directory is 60 MB of text.
    func write(_ plan: Plan, to out: TextSink) {
        var buffer = ""
        render(plan) { piece in
            buffer += piece
            if buffer.utf8.count >= 1 << 20 {
                out.write(buffer)
                buffer = ""
            }
        }
        out.write(buffer)
    }

    /// Hands the text to `emit` piece by piece: sections separated by a blank line.
    private func render(_ plan: Plan, _ emit: (String) -> Void) {
        var started = false
        func section(_ text: String) {
            if started { emit("\n") }
            started = true
            emit(text)
        }
        let blocked = plan.blockedRails
        if !blocked.isEmpty {
            section(blocked.map { rail in
                "\(paint("BLOCKED", .high)) \(rail.rail.rawValue): \(PlanText.visible(rail.message)); "
                    + "apply needs --allow \(rail.rail.rawValue)\n"
            }.joined())
        }
        if !plan.warnings.isEmpty {
            section(plan.warnings.map { "\(paint("warning:", .change)) \(PlanText.visible($0))\n" }.joined())
        }
        let groups = PlanGroup.groups(of: plan)
        renderChanges(plan.changes, in: groups, afterSections: started, emit)
        started = started || !groups.isEmpty
        if !plan.accessDelta.isEmpty {
            section(access(plan.accessDelta))
        }
        section(plan.summary.line + "\n")
    }

    /// Hands `emit` the groups' headings and the lines of their `changes` in order, rendered a
    /// window of lines at a time in parts on every core (a first plan has 440,000 lines, 100,000
    /// of them in the directory's group). A group's heading needs only the group before it, so
    /// any part can render its own; `afterSections` says whether a section came before the first.
    private func renderChanges(_ changes: [Change], in groups: [PlanGroup], afterSections: Bool,
                               _ emit: (String) -> Void) {
        let lines = groups.indices.flatMap { group in (0..<groups[group].indices.count).map { (group, $0) } }
        Parallel.windows(lines, of: linesPerWindow) { part in
            var text = ""
            for (group, position) in part {
                if position == 0 { text += heading(of: groups, at: group, afterSections: afterSections) }
                text += (groups[group].account == nil ? "  " : "    ")
                    + ChangeLine(changes[groups[group].indices[position]]).text(paint) + "\n"
            }
            return text
        } _: { emit($0) }
    }

    /// The lines before the changes of `groups[index]`: a blank line before each customer (and
    /// before the directory), unless nothing came before; a customer's accounts stay together.
    private func heading(of groups: [PlanGroup], at index: Int, afterSections: Bool) -> String {
        let group = groups[index]
        let previous = index > 0 ? groups[index - 1].customer : nil
        let continues = group.customer != nil && group.customer == previous
        var text = !continues && (index > 0 || afterSections) ? "\n" : ""
        guard let customer = group.customer else { return text + paint("Directory", .strong) + "\n" }
        if !continues {
            text += paint("Customer \(PlanText.visible(customer))", .strong) + "\n"
        }
        if let account = group.account {
            text += "  " + paint("Account \(PlanText.visible(account))", .strong) + "\n"
        }
        return text
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
        Paint.style(text, style, enabled: color)
    }
}

// MARK: - Markdown

/// A pull-request comment: summary, blocked rails, high-risk changes, who gains and loses
/// access, then every change folded away; always shorter than `limit` characters.
struct MarkdownPlanRenderer: PlanRenderer {
    static let identifier = OutputFormat.markdown
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
            group.indices.map { index in
                (group: group, change: plan.changes[index], text: ChangeLine(plan.changes[index]).text { text, _ in text })
            }
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
        text += (plan.store.isGitRevision
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
                "| \(PlanText.markdown(rail.rail.rawValue)) | \(PlanText.markdown(rail.message)) "
                    + "| \(PlanText.cell(PlanText.code("--allow \(rail.rail.rawValue)"))) |\n"
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
    static let identifier = OutputFormat.json

    func render(_ plan: Plan) -> String {
        String(decoding: plan.jsonData(), as: UTF8.self)
    }

    /// Streamed: a first plan of a large directory is hundreds of megabytes of JSON.
    func write(_ plan: Plan, to out: TextSink) {
        plan.writeJSON { out.write(bytes: $0) }
    }
}
