import RosterCore

/// Decodes roster.yaml (SPEC §2.1) into a `Config`.
struct ConfigDecoder {
    var reader: NodeReader

    init(tree: YAMLTree) {
        reader = NodeReader(tree: tree)
    }

    static let fields = ["version", "sources", "state", "permissions", "invitations", "events", "serve", "safety", "limits"]

    /// The configuration, with defaults for what the file leaves out.
    mutating func decode() -> Config {
        var config = Config()
        let tree = reader.tree
        guard let root = tree.documents.first else {
            reader.diagnostics.append(Diagnostic(.missingField(field: "version", in: "roster.yaml"),
                                                 at: SourceLocation(file: tree.file, line: 1, column: 1)))
            return config
        }
        for extra in tree.documents.dropFirst() {
            reader.report(.wrongType(field: "roster.yaml", expected: "a single document", found: "another document"), at: extra)
        }
        reader.mapping(root, field: "roster.yaml", in: "roster.yaml", fields: Self.fields,
                       required: ["version", "sources"]) { r, key, value in
            switch key {
            case "version":
                if let version = r.string(value, field: "version"), version.value != "1" {
                    r.report(.unsupportedVersion(version: version.value), at: value)
                }
            case "sources":
                config.sources = r.strings(value, field: "sources")
                if config.sources.isEmpty, r.tree.kind(value) != .scalar || r.tree.isNull(value) {
                    r.report(.invalidValue(field: "sources", value: "[]", expected: "at least one file, folder or glob"), at: value)
                }
            case "state": config.state = r.optionalString(value, field: "state")
            case "permissions": config.permissions = Self.catalogue(value, reader: &r)
            case "invitations": config.invitations = Self.invitations(value, reader: &r)
            case "events": config.events = Self.events(value, reader: &r)
            case "serve": config.serve = Self.serve(value, reader: &r)
            case "safety": config.safety = Self.safety(value, reader: &r)
            case "limits": config.limits = Self.limits(value, reader: &r)
            default: break
            }
        }
        return config
    }

    private static func catalogue(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> Catalogue {
        var catalogue = Catalogue()
        let tree = r.tree
        if tree.isNull(node) { return catalogue }
        guard tree.kind(node) == .mapping else {
            r.report(.wrongType(field: "permissions", expected: "a mapping of module to actions",
                                found: tree.typeName(node)), at: node)
            return catalogue
        }
        for (key, value) in tree.entries(node) {
            guard let module = r.string(key, field: "permissions module") else { continue }
            let actions = r.strings(value, field: "permissions.\(module.value)")
            for action in actions where action.value == "*" {
                r.diagnostics.append(Diagnostic(.invalidValue(field: "catalogue action", value: "*",
                                                              expected: "a named action; '*' is for roles"),
                                                at: action.location))
            }
            catalogue.modules.append((module, actions.filter { $0.value != "*" }))
        }
        return catalogue
    }

    private static func invitations(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> InvitationSettings {
        var settings = InvitationSettings()
        if r.tree.isNull(node) { return settings }
        r.mapping(node, field: "invitations", in: "invitations",
                  fields: ["ttl", "reissueExpired", "maxReissues", "acceptUrl", "from", "delivery"]) { r, key, value in
            switch key {
            case "ttl": settings.ttl = r.duration(value, field: "invitations.ttl") ?? settings.ttl
            case "reissueExpired": settings.reissueExpired = r.bool(value, field: "invitations.reissueExpired") ?? settings.reissueExpired
            case "maxReissues": settings.maxReissues = r.count(value, field: "invitations.maxReissues")?.value ?? settings.maxReissues
            case "acceptUrl":
                if let url = r.string(value, field: "invitations.acceptUrl") {
                    if url.value.contains("{token}") {
                        settings.acceptURL = url.value
                    } else {
                        r.report(.invalidValue(field: "invitations.acceptUrl", value: url.value,
                                               expected: "a URL containing '{token}'"), at: value)
                    }
                }
            case "from":
                if let text = r.string(value, field: "invitations.from") {
                    if let address = MailAddress(parsing: text.value) {
                        settings.from = address
                    } else {
                        r.report(.invalidSender(value: text.value), at: value)
                    }
                }
            case "delivery": settings.delivery = delivery(value, reader: &r) ?? settings.delivery
            default: break
            }
        }
        return settings
    }

    private static func delivery(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> DeliverySettings? {
        var fields: [String: Located<String>] = [:]
        let ok = r.mapping(node, field: "invitations.delivery", in: "invitations.delivery",
                           fields: ["kind", "path", "url", "secretEnv", "timeout", "command"], required: ["kind"]) { r, key, value in
            if let text = r.string(value, field: "delivery.\(key)") {
                fields[key] = text
            }
        }
        guard ok, let kind = fields["kind"] else { return nil }
        func only(_ allowed: Set<String>) -> Bool {
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) where key != "kind" && !allowed.contains(key) {
                r.diagnostics.append(Diagnostic(.unknownField(field: key, in: "delivery of kind '\(kind.value)'",
                                                              suggestion: nil), at: value.location))
                return false
            }
            return true
        }
        func timeout(default seconds: Int) -> Int? {
            guard let text = fields["timeout"] else { return seconds }
            guard let value = DurationSyntax.seconds(parsing: text.value), value > 0 else {
                r.diagnostics.append(Diagnostic(.invalidDuration(field: "invitations.delivery.timeout", value: text.value),
                                                at: text.location))
                return nil
            }
            return value
        }
        switch kind.value {
        case "file":
            guard only(["path"]) else { return nil }
            return .file(path: fields["path"]?.value ?? ".roster/outbox")
        case "webhook":
            guard only(["url", "secretEnv", "timeout"]) else { return nil }
            var missing = false
            for field in ["url", "secretEnv"] where fields[field] == nil {
                r.report(.missingField(field: field, in: "delivery of kind 'webhook'"), at: node)
                missing = true
            }
            guard !missing, let url = fields["url"], let secretEnv = fields["secretEnv"] else { return nil }
            guard WebhookURL.isAllowed(url.value) else {
                r.diagnostics.append(Diagnostic(.insecureURL(field: "invitations.delivery.url", url: url.value),
                                                at: url.location))
                return nil
            }
            guard let seconds = timeout(default: 15) else { return nil }
            return .webhook(WebhookSettings(url: url.value, secretEnv: secretEnv.value, timeout: seconds))
        case "sendmail":
            guard only(["command", "timeout"]) else { return nil }
            let command = fields["command"]?.value ?? SendmailSettings.defaultCommand
            if let written = fields["command"] {
                guard let words = CommandLineWords.split(written.value) else {
                    r.diagnostics.append(Diagnostic(.invalidValue(field: "invitations.delivery.command", value: written.value,
                                                                  expected: "a command whose quotes are closed"),
                                                    at: written.location))
                    return nil
                }
                if words.isEmpty {
                    r.diagnostics.append(Diagnostic(.emptyCommand(field: "invitations.delivery.command"), at: written.location))
                    return nil
                }
            }
            guard let seconds = timeout(default: 30) else { return nil }
            return .sendmail(SendmailSettings(command: command, timeout: seconds))
        default:
            r.diagnostics.append(Diagnostic(.invalidValue(field: "delivery kind", value: kind.value,
                                                          expected: "'file', 'webhook' or 'sendmail'"),
                                            at: kind.location))
            return nil
        }
    }

    /// `events:`, a list of endpoints (SPEC §11): names unique slugs, URLs as for webhooks, the
    /// secret's variable required, `types` known patterns, `from: now | start`.
    private static func events(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> [EventEndpoint] {
        var endpoints: [EventEndpoint] = []
        var firstNamed: [String: SourceLocation] = [:]
        r.list(node, field: "events") { r, item in
            var name: Located<String>?, url: Located<String>?, secretEnv: String?, timeout = 15, fromStart = false
            var types: [EventTypePattern] = []
            var valid = r.mapping(item, field: "events endpoint", in: "events endpoint",
                                  fields: ["name", "url", "secretEnv", "types", "from", "timeout"],
                                  required: ["name", "url", "secretEnv"]) { r, key, value in
                switch key {
                case "name": name = r.string(value, field: "events.name")
                case "url": url = r.string(value, field: "events.url")
                case "secretEnv": secretEnv = r.string(value, field: "events.secretEnv")?.value
                case "timeout":
                    guard let text = r.string(value, field: "events.timeout") else { return }
                    if let seconds = DurationSyntax.seconds(parsing: text.value), seconds > 0 {
                        timeout = seconds
                    } else {
                        r.report(.invalidDuration(field: "events.timeout", value: text.value), at: value)
                    }
                case "types":
                    for pattern in r.strings(value, field: "events.types") {
                        if let known = EventTypePattern(pattern.value) {
                            types.append(known)
                        } else {
                            r.diagnostics.append(Diagnostic(.unknownEventType(pattern: pattern.value,
                                                                              suggestion: EventTypePattern.suggestion(for: pattern.value)),
                                                            at: pattern.location))
                        }
                    }
                case "from":
                    guard let text = r.string(value, field: "events.from") else { return }
                    switch text.value {
                    case "now": fromStart = false
                    case "start": fromStart = true
                    default: r.report(.invalidValue(field: "events.from", value: text.value, expected: "'now' or 'start'"), at: value)
                    }
                default: break
                }
            }
            if let name {
                if !Syntax.isSlug(name.value) {
                    r.diagnostics.append(Diagnostic(.invalidSlug(field: "events.name", value: name.value), at: name.location))
                    valid = false
                } else if let first = firstNamed[name.value] {
                    r.diagnostics.append(Diagnostic(.duplicateID(kind: "events endpoint", id: name.value), at: name.location,
                                                    notes: [DiagnosticNote("first declared here", at: first)]))
                    valid = false
                } else {
                    firstNamed[name.value] = name.location
                }
            }
            if let url, !WebhookURL.isAllowed(url.value) {
                r.diagnostics.append(Diagnostic(.insecureURL(field: "events.url", url: url.value), at: url.location))
                valid = false
            }
            guard valid, let name, let url, let secretEnv else { return }
            endpoints.append(EventEndpoint(name: name.value,
                                           webhook: WebhookSettings(url: url.value, secretEnv: secretEnv, timeout: timeout),
                                           types: types, fromStart: fromStart))
        }
        return endpoints
    }

    /// `serve:` (SPEC §12): `listen` as HOST:PORT, `tokensEnv` the variable naming the tokens.
    private static func serve(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> ServeSettings {
        var settings = ServeSettings()
        if r.tree.isNull(node) { return settings }
        r.mapping(node, field: "serve", in: "serve", fields: ["listen", "tokensEnv"]) { r, key, value in
            guard let text = r.string(value, field: "serve.\(key)") else { return }
            if key == "listen" {
                if let address = ListenAddress(parsing: text.value) {
                    settings.listen = address
                } else {
                    r.report(.invalidListen(field: "serve.listen", value: text.value), at: value)
                }
            } else if text.value.isEmpty {
                r.report(.invalidValue(field: "serve.tokensEnv", value: "", expected: "the name of an environment variable"),
                         at: value)
            } else {
                settings.tokensEnv = text.value
            }
        }
        return settings
    }

    private static func safety(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> SafetySettings {
        var settings = SafetySettings()
        if r.tree.isNull(node) { return settings }
        r.mapping(node, field: "safety", in: "safety",
                  fields: ["maxUserDeactivations", "maxMembershipRemovals"]) { r, key, value in
            guard let threshold = r.threshold(value, field: "safety.\(key)") else { return }
            if key == "maxUserDeactivations" {
                settings.maxUserDeactivations = threshold
            } else {
                settings.maxMembershipRemovals = threshold
            }
        }
        return settings
    }

    private static func limits(_ node: YAMLTree.NodeID, reader r: inout NodeReader) -> LimitSettings {
        var settings = LimitSettings()
        if r.tree.isNull(node) { return settings }
        r.mapping(node, field: "limits", in: "limits", fields: ["accountsPerCustomer", "membersPerAccount"]) { r, key, value in
            guard let count = r.count(value, field: "limits.\(key)")?.value else { return }
            if key == "accountsPerCustomer" {
                settings.accountsPerCustomer = count
            } else {
                settings.membersPerAccount = count
            }
        }
        return settings
    }
}
