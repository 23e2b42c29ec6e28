import RosterCore

/// One invalid example for a rule: files added to the base project, one of them marked
/// with `↓` just before the character where the diagnostic must point.
struct RuleExample {
    var code: DiagnosticCode
    /// Replaces roster.yaml when set (may hold the marker).
    var config: String?
    /// Added as `directory/case.yaml` (may hold the marker).
    var document: String?
    /// Further files, by path relative to the project (never marked).
    var extraFiles: [String: String] = [:]
    /// When set, every diagnostic of the example, as `roster validate` prints it (golden).
    var expected: String?

    init(_ code: DiagnosticCode, config: String? = nil, document: String? = nil, extraFiles: [String: String] = [:],
         expected: String? = nil) {
        self.code = code
        self.config = config
        self.document = document
        self.extraFiles = extraFiles
        self.expected = expected
    }
}

/// Every diagnostic code that a file can trigger, with where it must point.
/// `config-not-found`, `unreadable-file` and `file-too-large` need no YAML to show and are
/// covered by the CLI and hostile-input tests.
let ruleExamples: [RuleExample] = yamlSyntaxExamples + [
    RuleExample(.duplicateKey, document: """
    kind: User
    email: carol@acme.example
    ↓email: carol2@acme.example
    """),
    RuleExample(.aliasBudget, document: """
    kind: Role
    id: bomb
    description: [&a [x, x, x, x, x, x, x, x, x, x],
      &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a],
      &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b],
      &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c],
      &e [*d, *d, *d, *d, *d, *d, *d, ↓*d, *d, *d]]
    permissions: {}
    """),
    RuleExample(.undefinedAlias, document: """
    kind: User
    email: ↓*nowhere
    """),
    RuleExample(.undefinedAlias, document: """
    kind: User
    email: carol@acme.example
    name: &loop [a, ↓*loop]
    """),
    RuleExample(.nestingTooDeep, document: "kind: User\nname: "
        + String(repeating: "[", count: 63) + "↓" + String(repeating: "[", count: 10)
        + String(repeating: "]", count: 73) + "\n"),
    RuleExample(.missingKind, document: """
    ↓email: carol@acme.example
    name: Carol
    """),
    RuleExample(.unknownKind, document: """
    kind: ↓Usr
    email: carol@acme.example
    """),
    RuleExample(.wrongType, document: """
    kind: User
    email: ↓[carol@acme.example]
    """),
    RuleExample(.wrongType, document: """
    kind: Customer
    id: other
    owner: alice@acme.example
    members: ↓bob@acme.example
    """),
    RuleExample(.unknownField, document: """
    kind: User
    email: carol@acme.example
    ↓nmae: Carol
    """),
    RuleExample(.unknownField, document: """
    kind: User
    email: carol@acme.example
    ↓<<: {name: Carol}
    """),
    RuleExample(.unknownField, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    ↓saftey: {maxUserDeactivations: 5}
    """),
    RuleExample(.unknownField, document: """
    kind: Customer
    id: other
    owner: alice@acme.example
    ↓displayName: Other Corp
    """, expected: """
    directory/case.yaml:4:1: error: unknown field 'displayName' in Customer; did you mean 'name'? [unknown-field]
    """),
    // One mistake, one message: no missing-field error, and the entry still counts, so no
    // unused-role or unassigned-user warning follows.
    RuleExample(.misspelledField, document: """
    kind: User
    email: carol@acme.example
    ---
    kind: Role
    id: auditor
    permissions: {billing: [read]}
    ---
    kind: Account
    id: live
    customer: acme
    members:
      - user: carol@acme.example
        ↓role: [auditor]
    """, expected: """
    directory/case.yaml:13:5: error: 'role' should be 'roles', a required field of a members entry; rename it [misspelled-field]
    """),
    RuleExample(.misspelledField, document: """
    kind: Customer
    id: other
    ↓ownr: alice@acme.example
    """, expected: """
    directory/case.yaml:3:1: error: 'ownr' should be 'owner', a required field of Customer; rename it [misspelled-field]
    """),
    RuleExample(.missingField, document: """
    ↓kind: Customer
    id: other
    """),
    RuleExample(.missingField, document: """
    kind: Customer
    id: other
    owner: alice@acme.example
    members:
      - ↓user: bob@acme.example
    """),
    RuleExample(.invalidValue, document: """
    kind: User
    email: carol@acme.example
    status: ↓retired
    """),
    RuleExample(.invalidValue, document: """
    kind: Customer
    id: other
    owner: alice@acme.example
    members:
      - user: bob@acme.example
        roles: [viewer]
        expires: ↓2027-02-30
    """),
    RuleExample(.invalidValue, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    invitations: {ttl: ↓7w}
    """),
    RuleExample(.invalidValue, document: #"""
    kind: User
    email: carol@acme.example
    name: ↓"Carol\0Jones"
    """#),
    RuleExample(.invalidValue, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    safety: {maxUserDeactivations: ↓ten}
    """),
    RuleExample(.unsupportedVersion, config: """
    version: ↓2
    sources: [directory]
    """),
    RuleExample(.sourceOutsideRoot, config: """
    version: 1
    sources: [directory, ↓..]
    permissions: {streams: [read]}
    """),
    RuleExample(.sourceNotFound, config: """
    version: 1
    sources: [directory, ↓missing]
    permissions: {streams: [read]}
    """),
    RuleExample(.emptySource, config: """
    version: 1
    sources: [directory, ↓notes]
    permissions: {streams: [read]}
    """, extraFiles: ["notes/readme.txt": "not yaml\n"]),
    RuleExample(.duplicateID, document: """
    kind: Role
    id: ↓viewer
    permissions: {streams: [read]}
    """),
    RuleExample(.duplicateID, document: """
    kind: Account
    id: live
    customer: acme
    ---
    kind: Account
    id: ↓live
    customer: acme
    """),
    RuleExample(.duplicateEmail, document: """
    kind: User
    email: ↓ALICE@acme.example
    """),
    RuleExample(.invalidSlug, document: """
    kind: Role
    id: ↓Bad_Role
    permissions: {streams: [read]}
    """),
    RuleExample(.invalidSlug, document: """
    kind: Account
    id: ↓-live
    customer: acme
    """),
    RuleExample(.invalidEmail, document: """
    kind: User
    email: ↓carol.acme.example
    """),
    RuleExample(.unknownUser, document: """
    kind: Customer
    id: other
    owner: ↓zed@acme.example
    """),
    RuleExample(.unknownUser, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: ↓bobb@acme.example
        roles: [viewer]
    """, expected: """
    directory/case.yaml:5:11: error: member 'bobb@acme.example' is not a declared user; did you mean 'bob@acme.example'? [unknown-user]
    """),
    // Another person at the same domain is not a typo: no suggestion.
    RuleExample(.unknownUser, document: """
    kind: User
    email: sam@acme.example
    ---
    kind: Account
    id: live
    customer: acme
    members:
      - user: sam@acme.example
        roles: [viewer]
      - user: ↓adam@acme.example
        roles: [viewer]
    """, expected: """
    directory/case.yaml:10:11: error: member 'adam@acme.example' is not a declared user; declare it with 'kind: User' [unknown-user]
    """),
    RuleExample(.unknownUser, document: """
    kind: Customer
    id: other
    owner: ↓Bob@acme.exmaple
    """, expected: """
    directory/case.yaml:3:8: error: owner 'Bob@acme.exmaple' is not a declared user; did you mean 'bob@acme.example'? [unknown-user]
    """),
    RuleExample(.unknownCustomer, document: """
    kind: Account
    id: live
    customer: ↓acme2
    """),
    RuleExample(.unknownRole, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
        roles: [↓viewr]
    """),
    RuleExample(.unknownPermission, document: """
    kind: Role
    id: streamer
    permissions:
      ↓stream: [read]
    """),
    RuleExample(.unknownPermission, document: """
    kind: Role
    id: streamer
    permissions:
      streams: [read, ↓publish]
    """),
    RuleExample(.previousEmailCollision, document: """
    kind: User
    email: carol@acme.example
    previousEmails: [↓bob@acme.example]
    """),
    RuleExample(.inactiveOwner, document: """
    kind: User
    email: dora@acme.example
    status: inactive
    ---
    kind: Customer
    id: other
    owner: ↓dora@acme.example
    """),
    RuleExample(.inactiveOwner, document: """
    kind: User
    email: dora@acme.example
    status: inactive
    ---
    kind: Account
    id: live
    customer: acme
    owner: ↓dora@acme.example
    """),
    RuleExample(.duplicateMember, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
        roles: [viewer]
      - user: ↓Bob@acme.example
        roles: [viewer]
    """),
    RuleExample(.reservedRole, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
        roles: [viewer, ↓owner]
    """),
    RuleExample(.reservedRole, document: """
    kind: Role
    id: ↓owner
    permissions: {streams: ["*"]}
    """),
    RuleExample(.limitExceeded, document: """
    kind: Customer
    id: small
    owner: alice@acme.example
    limits: {accounts: 1}
    ---
    kind: Account
    id: small-one
    customer: small
    ---
    kind: Account
    id: small-two
    customer: ↓small
    """),
    RuleExample(.limitExceeded, document: """
    kind: Account
    id: live
    customer: acme
    limits: {members: 1}
    members:
      - user: bob@acme.example
        roles: [viewer]
      - ↓user: alice@acme.example
        roles: [viewer]
    """),
    RuleExample(.expiredMembership, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
        roles: [viewer]
        expires: ↓2026-11-23
    """),
    RuleExample(.inactiveMember, document: """
    kind: User
    email: eve@acme.example
    status: inactive
    ---
    kind: Account
    id: live
    customer: acme
    members:
      - user: ↓eve@acme.example
        roles: [viewer]
    """),
    RuleExample(.unusedRole, document: """
    kind: Role
    id: ↓auditor
    permissions: {billing: [read]}
    """),
    RuleExample(.unassignedUser, document: """
    kind: User
    email: ↓lonely@acme.example
    """),
    RuleExample(.insecureURL, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    invitations:
      delivery: {kind: webhook, url: ↓http://platform.example.com/hooks, secretEnv: HOOK_SECRET}
    """),
    RuleExample(.invalidListen, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    serve:
      listen: ↓localhost
    """),
    RuleExample(.invalidDuration, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    invitations:
      delivery: {kind: sendmail, timeout: ↓soon}
    """),
    RuleExample(.emptyCommand, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    invitations:
      delivery: {kind: sendmail, command: ↓"  "}
    """),
    RuleExample(.invalidSender, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    invitations:
      from: ↓ACME Portal
    """),
    RuleExample(.unknownEventType, config: """
    version: 1
    sources: [directory]
    permissions: {streams: [read]}
    events:
      - name: platform
        url: https://platform.example.com/hooks
        secretEnv: EVENTS_SECRET
        types: [↓user.deactivate]
    """),
]
