/// Every diagnostic roster reports, with a stable identifier printed in brackets.
///
/// The identifiers are part of the contract: CI pipelines may filter on them. Each is
/// documented in `docs/diagnostics.md`; a test checks that the two lists agree.
public enum DiagnosticCode: String, CaseIterable, Sendable, Codable {
    // Reading files
    case yamlSyntax = "yaml-syntax"
    case duplicateKey = "duplicate-key"
    case aliasBudget = "alias-budget"
    case undefinedAlias = "undefined-alias"
    case nestingTooDeep = "nesting-too-deep"
    case fileTooLarge = "file-too-large"
    case unreadableFile = "unreadable-file"
    // Document shape
    case missingKind = "missing-kind"
    case unknownKind = "unknown-kind"
    case wrongType = "wrong-type"
    case unknownField = "unknown-field"
    case misspelledField = "misspelled-field"
    case missingField = "missing-field"
    case invalidValue = "invalid-value"
    // roster.yaml
    case configNotFound = "config-not-found"
    case unsupportedVersion = "unsupported-version"
    case sourceOutsideRoot = "source-outside-root"
    case sourceNotFound = "source-not-found"
    // Directory rules
    case duplicateID = "duplicate-id"
    case duplicateEmail = "duplicate-email"
    case invalidSlug = "invalid-slug"
    case invalidEmail = "invalid-email"
    case unknownUser = "unknown-user"
    case unknownCustomer = "unknown-customer"
    case unknownRole = "unknown-role"
    case unknownPermission = "unknown-permission"
    case previousEmailCollision = "previous-email-collision"
    case inactiveOwner = "inactive-owner"
    case duplicateMember = "duplicate-member"
    case reservedRole = "reserved-role"
    case limitExceeded = "limit-exceeded"
    // Delivery and endpoints
    case insecureURL = "insecure-url"
    case invalidDuration = "invalid-duration"
    case invalidListen = "invalid-listen"
    case emptyCommand = "empty-command"
    case invalidSender = "invalid-from"
    case unknownEventType = "unknown-event-type"
    // Warnings
    case expiredMembership = "expired-membership"
    case inactiveMember = "inactive-member"
    case unusedRole = "unused-role"
    case unassignedUser = "unassigned-user"
    case emptySource = "empty-source"

    /// Whether this code makes the files invalid.
    public var severity: Severity {
        switch self {
        case .expiredMembership, .inactiveMember, .unusedRole, .unassignedUser, .emptySource:
            return .warning
        default:
            return .error
        }
    }
}
