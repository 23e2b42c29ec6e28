import RosterCore

/// Typed reads from a `YAMLTree`, each reporting a diagnostic at the node when the value
/// does not fit. Scalars stay strings unless the field asks for another type (SPEC §10).
struct NodeReader {
    let tree: YAMLTree
    var diagnostics: [Diagnostic] = []

    init(tree: YAMLTree) {
        self.tree = tree
    }

    typealias NodeID = YAMLTree.NodeID

    mutating func report(_ problem: Problem, at node: NodeID, notes: [DiagnosticNote] = []) {
        diagnostics.append(Diagnostic(problem, at: tree.location(node), notes: notes))
    }

    /// Walks a mapping whose keys must come from `fields` (fewer than 64); calls `body` for each known key.
    ///
    /// Reports a non-mapping, unknown keys (with a suggestion) and missing `required` keys.
    /// An unknown key that is a near miss of a missing required key (`role:` for `roles:`) is
    /// one mistake: it is reported once, as misspelt, and its value is read as the required
    /// key, so neither a missing-field error nor warnings about what went unread follow.
    /// Returns false when the node is not a mapping.
    @discardableResult
    mutating func mapping(_ node: NodeID, field: String, in container: String,
                          fields: [String], required: [String] = [],
                          _ body: (inout NodeReader, String, NodeID) -> Void) -> Bool {
        guard tree.kind(node) == .mapping else {
            report(.wrongType(field: field, expected: "a mapping", found: tree.typeName(node)), at: node)
            return false
        }
        let entries = tree.entries(node)
        var present: UInt64 = 0
        for (key, _) in entries {
            if let name = tree.scalar(key), let index = fields.firstIndex(of: name) { present |= 1 << UInt64(index) }
        }
        for (key, value) in entries {
            guard let name = tree.scalar(key) else {
                report(.wrongType(field: "key", expected: "a string", found: tree.typeName(key)), at: key)
                continue
            }
            if name == "<<" {
                report(.mergeKey, at: key)
                continue
            }
            guard fields.contains(name) else {
                let suggestion = Self.suggestField(for: name, in: fields)
                if let suggestion, required.contains(suggestion), let index = fields.firstIndex(of: suggestion),
                   present & (1 << UInt64(index)) == 0 {
                    present |= 1 << UInt64(index)
                    report(.misspelledField(field: name, correct: suggestion, in: container), at: key)
                    body(&self, suggestion, value)
                } else {
                    report(.unknownField(field: name, in: container, suggestion: suggestion), at: key)
                }
                continue
            }
            body(&self, name, value)
        }
        for name in required {
            if let index = fields.firstIndex(of: name), present & (1 << UInt64(index)) != 0 { continue }
            report(.missingField(field: name, in: container), at: node)
        }
        return true
    }

    /// Field names other tools use for one of roster's, too far apart for an edit distance to find.
    static let fieldSynonyms: [String: String] = [
        "displayName": "name", "display_name": "name", "fullName": "name", "full_name": "name",
        "customerId": "customer", "customer_id": "customer", "customerID": "customer",
        "expiresAt": "expires", "expires_at": "expires", "expiration": "expires", "validUntil": "expires",
    ]

    /// The field `name` was probably meant to be: a near spelling, else a known synonym.
    static func suggestField(for name: String, in fields: [String]) -> String? {
        if let close = Suggestion.closest(to: name, in: fields) { return close }
        if let synonym = fieldSynonyms[name], fields.contains(synonym) { return synonym }
        return nil
    }

    /// A scalar as a string; nil (reported) for null or a collection.
    mutating func string(_ node: NodeID, field: String) -> Located<String>? {
        guard let text = tree.scalar(node), !tree.isNull(node) else {
            report(.wrongType(field: field, expected: "a string", found: tree.typeName(node)), at: node)
            return nil
        }
        return Located(text, at: tree.location(node))
    }

    /// A scalar as a string, where null means "not set".
    mutating func optionalString(_ node: NodeID, field: String) -> String? {
        if tree.isNull(node) { return nil }
        return string(node, field: field)?.value
    }

    /// A list of strings; a null list is empty.
    mutating func strings(_ node: NodeID, field: String) -> [Located<String>] {
        if tree.isNull(node) { return [] }
        guard tree.kind(node) == .sequence else {
            report(.wrongType(field: field, expected: "a list", found: tree.typeName(node)), at: node)
            return []
        }
        return tree.items(node).compactMap { string($0, field: field) }
    }

    /// A list of mappings or other items, each handed to `body`.
    mutating func list(_ node: NodeID, field: String, _ body: (inout NodeReader, NodeID) -> Void) {
        if tree.isNull(node) { return }
        guard tree.kind(node) == .sequence else {
            report(.wrongType(field: field, expected: "a list", found: tree.typeName(node)), at: node)
            return
        }
        for item in tree.items(node) {
            body(&self, item)
        }
    }

    /// A whole number, zero or more.
    mutating func count(_ node: NodeID, field: String) -> Located<Int>? {
        guard let text = string(node, field: field)?.value else { return nil }
        guard let value = Int(text), value >= 0 else {
            report(.invalidValue(field: field, value: text, expected: "a whole number, 0 or more"), at: node)
            return nil
        }
        return Located(value, at: tree.location(node))
    }

    /// A boolean; here, since the field asks for one, YAML 1.1's yes/no/on/off are accepted.
    mutating func bool(_ node: NodeID, field: String) -> Bool? {
        guard let text = string(node, field: field)?.value else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(.invalidValue(field: field, value: text, expected: "true or false"), at: node)
            return nil
        }
    }

    /// `active` or `inactive`.
    mutating func status(_ node: NodeID, field: String = "status") -> DeclaredStatus? {
        guard let text = string(node, field: field)?.value else { return nil }
        guard let status = DeclaredStatus(rawValue: text) else {
            report(.invalidValue(field: field, value: text, expected: "'active' or 'inactive'"), at: node)
            return nil
        }
        return status
    }

    /// A `YYYY-MM-DD` date.
    mutating func day(_ node: NodeID, field: String) -> Located<Day>? {
        guard let text = string(node, field: field)?.value else { return nil }
        guard let day = Day(parsing: text) else {
            report(.invalidValue(field: field, value: text, expected: "a date written YYYY-MM-DD"), at: node)
            return nil
        }
        return Located(day, at: tree.location(node))
    }

    /// A duration such as `7d`, `12h`, `30m`, `90s` or `1d12h`, in seconds.
    mutating func duration(_ node: NodeID, field: String) -> Int? {
        guard let text = string(node, field: field)?.value else { return nil }
        guard let seconds = DurationSyntax.seconds(parsing: text), seconds > 0 else {
            report(.invalidValue(field: field, value: text,
                                 expected: "a positive duration such as '7d', '12h', '30m' or '90s'"), at: node)
            return nil
        }
        return seconds
    }

    /// A threshold: a whole number (`10`) or a percentage (`10%`).
    mutating func threshold(_ node: NodeID, field: String) -> Threshold? {
        guard let text = string(node, field: field)?.value else { return nil }
        if text.hasSuffix("%"), let percent = Double(text.dropLast()), percent >= 0, percent <= 100 {
            return .percent(percent)
        }
        if let count = Int(text), count >= 0 {
            return .count(count)
        }
        report(.invalidValue(field: field, value: text,
                             expected: "a whole number or a percentage from 0% to 100%"), at: node)
        return nil
    }
}
