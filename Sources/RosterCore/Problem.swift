/// What can be wrong with the files, as data; `message` is the one place that words it.
///
/// User values are quoted with single quotes; lists are sorted before they are printed.
public enum Problem: Error, Sendable, Hashable {
    case yamlSyntax(detail: String)
    case yamlTab
    case yamlEntryMisaligned(entry: YAMLPlace, list: YAMLPlace)
    case yamlNotAnEntry(item: YAMLPlace, list: YAMLPlace, field: YAMLPlace?)
    case yamlKeyMisaligned(item: YAMLPlace, mapping: YAMLPlace, nearer: YAMLPlace?)
    case yamlContinuation(key: YAMLPlace, previous: YAMLPlace)
    case yamlColonInValue(line: Int)
    case yamlMissingColon(key: YAMLPlace)
    case yamlUnclosed(opener: YAMLPlace)
    case yamlReservedCharacter(character: String)
    case yamlEntryAfterKey
    case duplicateKey(key: String)
    case aliasBudget(limit: Int)
    case undefinedAlias(name: String)
    case recursiveAlias(name: String)
    case mergeKey
    case controlCharacter(scalar: UInt8)
    case nestingTooDeep(limit: Int)
    case fileTooLarge(bytes: Int, limit: Int)
    case unreadableFile(reason: String)
    case missingKind(kinds: [String])
    case unknownKind(kind: String, suggestion: String?, kinds: [String])
    case wrongType(field: String, expected: String, found: String)
    case unknownField(field: String, in: String, suggestion: String?)
    case misspelledField(field: String, correct: String, in: String)
    case missingField(field: String, in: String)
    case invalidValue(field: String, value: String, expected: String)
    case configNotFound(searched: String)
    case unsupportedVersion(version: String)
    case sourceOutsideRoot(source: String)
    case sourceNotFound(source: String)
    case duplicateID(kind: String, id: String)
    case duplicateEmail(email: String)
    case invalidSlug(field: String, value: String)
    case invalidEmail(value: String)
    case unknownUser(email: String, role: String, suggestion: String?)
    /// `revision` nil: the user is in the store.
    case removedUser(email: String, role: String, revision: String?)
    case unknownCustomer(id: String, suggestion: String?)
    case unknownRole(id: String, suggestion: String?)
    case unknownModule(module: String, suggestion: String?)
    case unknownAction(module: String, action: String, suggestion: String?)
    case previousEmailCollision(previous: String)
    case inactiveOwner(email: String, scope: String)
    case duplicateMember(email: String, scope: String)
    case reservedRole
    case reservedRoleID
    case limitExceeded(what: String, scope: String, count: Int, limit: Int)
    case expiredMembership(email: String, scope: String, expires: String)
    case inactiveMember(email: String, scope: String)
    case unusedRole(id: String)
    case unassignedUser(email: String)
    case emptySource(source: String)
    // Delivery and endpoints (SPEC §6.1, §11)
    case insecureURL(field: String, url: String)
    case invalidDuration(field: String, value: String)
    /// `serve.listen` that is not HOST:PORT.
    case invalidListen(field: String, value: String)
    case emptyCommand(field: String)
    case invalidSender(value: String)
    case unknownEventType(pattern: String, suggestion: String?)

    /// The stable code this problem is reported under.
    public var code: DiagnosticCode {
        switch self {
        case .yamlSyntax, .yamlTab, .yamlEntryMisaligned, .yamlNotAnEntry, .yamlKeyMisaligned, .yamlContinuation,
             .yamlColonInValue, .yamlMissingColon, .yamlUnclosed, .yamlReservedCharacter, .yamlEntryAfterKey:
            return .yamlSyntax
        case .duplicateKey: return .duplicateKey
        case .aliasBudget: return .aliasBudget
        case .undefinedAlias, .recursiveAlias: return .undefinedAlias
        case .mergeKey: return .unknownField
        case .controlCharacter: return .invalidValue
        case .nestingTooDeep: return .nestingTooDeep
        case .fileTooLarge: return .fileTooLarge
        case .unreadableFile: return .unreadableFile
        case .missingKind: return .missingKind
        case .unknownKind: return .unknownKind
        case .wrongType: return .wrongType
        case .unknownField: return .unknownField
        case .misspelledField: return .misspelledField
        case .missingField: return .missingField
        case .invalidValue: return .invalidValue
        case .configNotFound: return .configNotFound
        case .unsupportedVersion: return .unsupportedVersion
        case .sourceOutsideRoot: return .sourceOutsideRoot
        case .sourceNotFound: return .sourceNotFound
        case .duplicateID: return .duplicateID
        case .duplicateEmail: return .duplicateEmail
        case .invalidSlug: return .invalidSlug
        case .invalidEmail: return .invalidEmail
        case .unknownUser, .removedUser: return .unknownUser
        case .unknownCustomer: return .unknownCustomer
        case .unknownRole: return .unknownRole
        case .unknownModule, .unknownAction: return .unknownPermission
        case .previousEmailCollision: return .previousEmailCollision
        case .inactiveOwner: return .inactiveOwner
        case .duplicateMember: return .duplicateMember
        case .reservedRole, .reservedRoleID: return .reservedRole
        case .limitExceeded: return .limitExceeded
        case .expiredMembership: return .expiredMembership
        case .inactiveMember: return .inactiveMember
        case .unusedRole: return .unusedRole
        case .unassignedUser: return .unassignedUser
        case .emptySource: return .emptySource
        case .insecureURL: return .insecureURL
        case .invalidDuration: return .invalidDuration
        case .invalidListen: return .invalidListen
        case .emptyCommand: return .emptyCommand
        case .invalidSender: return .invalidSender
        case .unknownEventType: return .unknownEventType
        }
    }

    /// The wording shown to the user: what is wrong, then what to do.
    public var message: String {
        switch self {
        case .yamlSyntax(let detail):
            return "invalid YAML: \(detail)"
        case .yamlTab:
            return "tabs cannot indent YAML; use spaces"
        case .yamlEntryMisaligned(let entry, let list):
            return "the list entry on line \(entry.line) has its '-' at column \(entry.column), but the list it belongs to "
                + "(line \(list.line)) has its '-' at column \(list.column); indent every '-' of one list alike"
        case .yamlNotAnEntry(let item, let list, let field):
            let intoEntry = field.map { "indent it to column \($0.column), like '\($0.text)', to add it to the entry above; " } ?? ""
            return "'\(item.text)' on line \(item.line) does not fit the list that starts on line \(list.line): \(intoEntry)"
                + "start a new entry with '- ' at column \(list.column); or indent it less than column \(list.column) to end the list"
        case .yamlKeyMisaligned(let item, let mapping, let nearer):
            let other = nearer.map { ", or to column \($0.column), like '\($0.text)' on line \($0.line)" } ?? ""
            return "'\(item.text)' on line \(item.line) (column \(item.column)) does not line up with the keys of the mapping "
                + "that starts on line \(mapping.line): indent it to column \(mapping.column), like '\(mapping.text)'\(other)"
        case .yamlContinuation(let key, let previous):
            return "'\(key.text)' on line \(key.line) is indented deeper than '\(previous.text)' on line \(previous.line), "
                + "so YAML reads it as more of that line's value; indent it to column \(previous.column), like '\(previous.text)'"
        case .yamlColonInValue(let line):
            return "the value on line \(line) holds ': ', which YAML reads as the start of another key; put the value in quotes"
        case .yamlMissingColon(let key):
            return "'\(key.text)' on line \(key.line) is not followed by ':'; write '\(key.text): VALUE', or quote it if it is text"
        case .yamlUnclosed(let opener):
            switch opener.text {
            case "[": return "the list opened with '[' on line \(opener.line) is not closed; end it with ']' (or quote the value, if the '[' is text)"
            case "{": return "the mapping opened with '{' on line \(opener.line) is not closed; end it with '}' (or quote the value, if the '{' is text)"
            default:
                return "the quoted text that opens on line \(opener.line) is not closed; "
                    + "end it with \(opener.text == "'" ? "a single" : "a double") quote"
            }
        case .yamlReservedCharacter(let character):
            return "'\(character)' cannot start a plain value; put the value in quotes"
        case .yamlEntryAfterKey:
            return "a list entry ('- ') cannot start on the line of its key; start the list on the next line, indented, or quote the value"
        case .duplicateKey(let key):
            return "duplicate key '\(key)' in this mapping; keep one of them"
        case .aliasBudget(let limit):
            return "aliases expand to more than \(limit) nodes; write the values out instead of nesting aliases"
        case .undefinedAlias(let name):
            return "alias '*\(name)' refers to no anchor declared before it; declare '&\(name)' first"
        case .recursiveAlias(let name):
            return "alias '*\(name)' refers to a node that contains it; aliases cannot be recursive"
        case .mergeKey:
            return "merge keys ('<<') are not supported; write the fields out"
        case .controlCharacter(let scalar):
            return "text holds the control character U+\(String(format: "%04X", scalar)), which neither store can keep "
                + "as written; remove it (escapes such as \\0 or \\x07 in double quotes included)"
        case .nestingTooDeep(let limit):
            return "values nest deeper than \(limit) levels; flatten this document"
        case .fileTooLarge(let bytes, let limit):
            return "file is \(bytes) bytes, over the limit of \(limit) bytes; split it into several files"
        case .unreadableFile(let reason):
            return "cannot read file: \(reason)"
        case .missingKind(let kinds):
            return "document has no 'kind'; add one of \(quotedList(kinds))"
        case .unknownKind(let kind, let suggestion, let kinds):
            return "unknown kind '\(kind)'\(didYouMean(suggestion) ?? "; expected one of \(quotedList(kinds))")"
        case .wrongType(let field, let expected, let found):
            return "'\(field)' must be \(expected), found \(found)"
        case .unknownField(let field, let container, let suggestion):
            return "unknown field '\(field)' in \(container)\(didYouMean(suggestion) ?? "; remove it")"
        case .misspelledField(let field, let correct, let container):
            return "'\(field)' should be '\(correct)', a required field of \(container); rename it"
        case .missingField(let field, let container):
            return "\(container) is missing required field '\(field)'"
        case .invalidValue(let field, let value, let expected):
            return "invalid \(field) '\(value)'; expected \(expected)"
        case .configNotFound(let searched):
            return "no roster.yaml found in \(searched) or any folder above it; run 'roster init' or pass --config PATH"
        case .unsupportedVersion(let version):
            return "unsupported configuration version '\(version)'; this roster reads version 1"
        case .sourceOutsideRoot(let source):
            return "source '\(source)' points outside the folder that holds roster.yaml; keep sources inside the repository"
        case .sourceNotFound(let source):
            return "source '\(source)' matches no file or folder; fix the path or remove it"
        case .duplicateID(let kind, let id):
            return "\(kind) '\(id)' is declared more than once; ids must be unique"
        case .duplicateEmail(let email):
            return "user '\(email)' is declared more than once (emails compare case-insensitively)"
        case .invalidSlug(let field, let value):
            return "\(field) '\(value)' is not a valid slug; use lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters"
        case .invalidEmail(let value):
            return "'\(value)' is not a valid email address"
        case .unknownUser(let email, let role, let suggestion):
            return "\(role) '\(email)' is not a declared user\(didYouMean(suggestion) ?? "; declare it with 'kind: User'")"
        case .removedUser(let email, let role, let revision):
            return "\(role) '\(email)' is no longer a declared user: its User document was removed "
                + (revision.map { "since \($0)" } ?? "(the store holds the user)") + "; "
                + (role == "owner" ? "set another owner" : "remove this member entry too") + ", or declare the user again"
        case .unknownCustomer(let id, let suggestion):
            return "customer '\(id)' is not declared\(didYouMean(suggestion) ?? "; declare it with 'kind: Customer'")"
        case .unknownRole(let id, let suggestion):
            return "role '\(id)' is not declared\(didYouMean(suggestion) ?? "; declare it with 'kind: Role'")"
        case .unknownModule(let module, let suggestion):
            return "module '\(module)' is not in the permissions catalogue of roster.yaml\(didYouMean(suggestion) ?? "; add it there or remove it")"
        case .unknownAction(let module, let action, let suggestion):
            return "action '\(action)' is not in the catalogue for module '\(module)'\(didYouMean(suggestion) ?? "; add it to roster.yaml or remove it")"
        case .previousEmailCollision(let previous):
            return "previous email '\(previous)' is also a declared user; a rename cannot keep both"
        case .inactiveOwner(let email, let scope):
            return "user '\(email)' is inactive but owns active \(scope); transfer ownership first or deactivate the scope"
        case .duplicateMember(let email, let scope):
            return "user '\(email)' is listed more than once in the members of \(scope); merge the entries"
        case .reservedRole:
            return "'owner' is reserved and cannot be granted as a role; set the scope's 'owner' field instead"
        case .reservedRoleID:
            return "role id 'owner' is reserved; ownership is the 'owner' field of a customer or account"
        case .limitExceeded(let what, let scope, let count, let limit):
            return "\(scope) has \(count) \(what), over its limit of \(limit); raise the limit or remove some"
        case .expiredMembership(let email, let scope, let expires):
            return "membership of '\(email)' in \(scope) expired on \(expires); it will be revoked, remove the entry"
        case .inactiveMember(let email, let scope):
            return "user '\(email)' is inactive; its membership in \(scope) will not be active"
        case .unusedRole(let id):
            return "role '\(id)' is not used by any membership"
        case .unassignedUser(let email):
            return "user '\(email)' owns nothing and is a member of nothing"
        case .emptySource(let source):
            return "source '\(source)' holds no .yaml or .yml files"
        case .insecureURL(let field, let url):
            return "\(field) '\(url)' is not allowed: use an https:// URL, or http:// only to a loopback address "
                + "(127.0.0.1, [::1] or localhost)"
        case .invalidDuration(let field, let value):
            return "\(field) '\(value)' is not a duration; write a positive one such as '15s', '2m' or '1h'"
        case .invalidListen(let field, let value):
            return "\(field) '\(value)' is not an address to listen on; write HOST:PORT with a port from 1 to 65535, "
                + "e.g. '127.0.0.1:8080' or '[::1]:8080'"
        case .emptyCommand(let field):
            return "\(field) is empty; name a sendmail-compatible command such as '/usr/sbin/sendmail -t -i' or 'msmtp -t'"
        case .invalidSender(let value):
            return "invitations.from '\(value)' is not a mail address; write 'Name <address@example.com>' or 'address@example.com'"
        case .unknownEventType(let pattern, let suggestion):
            return "event type '\(pattern)' is not known\(didYouMean(suggestion) ?? "; write a type such as 'user.deactivated', 'user.*' or '*'")"
        }
    }
}

/// A word at a place in a YAML file, as advice on a syntax error names it (1-based line and column).
public struct YAMLPlace: Hashable, Sendable {
    public var text: String
    public var line: Int
    public var column: Int

    public init(_ text: String, line: Int, column: Int) {
        self.text = text
        self.line = line
        self.column = column
    }
}

private func didYouMean(_ suggestion: String?) -> String? {
    suggestion.map { "; did you mean '\($0)'?" }
}

private func quotedList(_ items: [String]) -> String {
    items.sorted().map { "'\($0)'" }.joined(separator: ", ")
}
