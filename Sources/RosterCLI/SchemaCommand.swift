import ArgumentParser
import RosterApp
import RosterCore
import RosterManifest

/// `roster schema [--kind documents|config]`: the JSON Schema of the files, for editors and CI.
struct SchemaCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (draft 2020-12) of the directory documents or of roster.yaml, for editors.",
        discussion: """
        --kind documents (the default) covers every Role, User, Customer and Account document; \
        --kind config covers roster.yaml. Both forbid unknown fields, as roster does. The schema \
        checks the shape of each document; 'roster validate' still checks what no schema can: \
        duplicates, references, the permission catalogue and limits. Needs no roster.yaml and \
        prints the same bytes every time; --format text and json both print the schema.

        Examples:
          roster schema > schema/roster-documents.schema.json
          roster schema --kind config > schema/roster-config.schema.json

        Then, as the first line of a YAML file (yaml-language-server: VS Code, Neovim, Helix…):
          # yaml-language-server: $schema=../schema/roster-documents.schema.json
        """
    )

    @OptionGroup var options: GlobalOptions<TextOrJSON>

    @Option(help: "documents: Role, User, Customer and Account documents; config: roster.yaml.")
    var kind: SchemaKind = .documents

    func run(in environment: Environment) throws -> ExitStatus {
        environment.stdout.write(RosterSchema.schema(kind).rendered() + "\n")
        return .success
    }
}

/// Which files a schema describes.
enum SchemaKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case documents, config
}

/// A JSON value whose objects print with sorted keys, so a schema is always the same bytes.
enum JSONValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Pretty-printed with two spaces; lists of plain values stay on one line.
    func rendered(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .string(let text): return JSONValue.quoted(text)
        case .integer(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy(\.isPlain) {
                return "[" + items.map { $0.rendered() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n" + members.sorted { $0.key < $1.key }
                .map { inner + JSONValue.quoted($0.key) + ": " + $0.value.rendered(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        }
    }

    private var isPlain: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private static func quoted(_ text: String) -> String {
        CanonicalJSON.quoted(text)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .integer(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// The JSON Schemas of roster's files (SPEC §2); a test holds the document fields to the decoder's.
///
/// Scalars: roster reads every scalar as the type its field expects (SPEC §10), while editors
/// read YAML 1.2, where `2024` is a number and `true` a boolean. So free text accepts any
/// scalar, an all-digit slug may be a number, and counts and booleans may also be strings.
/// Optional fields accept null, which roster reads as "not set".
enum RosterSchema {
    static let draft = "https://json-schema.org/draft/2020-12/schema"

    static func schema(_ kind: SchemaKind) -> JSONValue {
        kind == .documents ? documents : config
    }

    // MARK: Documents

    static var documents: JSONValue {
        let kinds = DocumentKind.allCases.map(\.rawValue)
        return [
            "$schema": .string(draft),
            "title": "roster directory document",
            "description": .string("One YAML document of a roster directory: a Role, User, Customer or "
                + "Account, chosen by 'kind'. Unknown fields are errors. 'roster validate' also checks references, "
                + "duplicates, the permission catalogue and limits."),
            "type": "object",
            "required": ["kind"],
            "properties": ["kind": ["description": "What this document declares.", "enum": .array(kinds.map(JSONValue.string))]],
            "allOf": .array(kinds.map { kind -> JSONValue in
                ["if": ["properties": ["kind": ["const": .string(kind)]], "required": ["kind"]],
                 "then": ["$ref": .string("#/$defs/\(kind)")]]
            }),
            "$defs": .object(documentDefinitions),
        ]
    }

    private static var documentDefinitions: [String: JSONValue] {
        let status: JSONValue = ["description": "active (default) | inactive.", "enum": ["active", "inactive"]]
        return [
            "Role": object(.role, "A named set of permissions drawn from the catalogue in roster.yaml. Ownership is the "
                           + "'owner' field of a customer or account, never a role.", [
                "id": ref("slug", "Required. The role's id, a slug; 'owner' is reserved.", not: "owner"),
                "name": text("Display name, e.g. Payment Management."),
                "description": text("What the role is for."),
                "permissions": [
                    "description": .string("Required. Module -> actions, all drawn from the catalogue in roster.yaml; "
                        + "\"*\" means every action of that module."),
                    "type": ["object", "null"],
                    "additionalProperties": [
                        "anyOf": [["const": "*"], ["type": "array", "items": ["type": "string"]], ["type": "null"]],
                    ],
                ],
            ]),
            "User": object(.user, "A person who signs in. Removing the document deactivates the user: memberships end, "
                           + "a pending invitation is revoked, history is kept.", [
                "email": ref("email", "Required. The user's identity; compared case-insensitively, displayed as written."),
                "name": text("Display name."),
                "status": status,
                "previousEmails": nullable(["type": "array", "items": ref("email")],
                                           "Rename: earlier emails of this user; identity, memberships and history carry over."),
            ]),
            "Customer": object(.customer, "Top-level billable party (a business or a person); owns accounts. Its owner "
                               + "holds every permission on the customer and on all of its accounts.", [
                "id": ref("slug", "Required. The customer's id, a slug."),
                "name": text("Display name."),
                "owner": ref("email", "Required. A declared, active user."),
                "status": status,
                "limits": limits("Limits of this customer, overriding roster.yaml's limits.",
                                 key: "accounts", "At most this many accounts (default: limits.accountsPerCustomer)."),
                "members": members,
            ]),
            "Account": object(.account, "One service of a customer (e.g. video streaming, web meeting).", [
                "id": ref("slug", "Required. The account's id, a slug unique across all customers."),
                "customer": ref("slug", "Required. The id of the customer this account belongs to."),
                "name": text("Display name."),
                "service": text("The service, e.g. video-streaming."),
                "owner": nullable(ref("email"), "A declared, active user; defaults to the customer's owner."),
                "status": status,
                "limits": limits("Limits of this account, overriding roster.yaml's limits.",
                                 key: "members", "At most this many members (default: limits.membersPerAccount)."),
                "members": members,
            ]),
            "Member": closed("A user with roles on this scope.", required: ["user", "roles"], [
                "user": ref("email", "Required. A declared user, listed once per members list."),
                "roles": [
                    "description": "Required, at least one. Ids of declared roles; 'owner' is reserved.",
                    "type": "array", "minItems": 1,
                    "items": ref("slug", not: "owner"),
                ],
                "expires": nullable(ref("date"), "Time-bound access: ends at 00:00 UTC that day (YYYY-MM-DD)."),
            ]),
            "slug": [
                "description": "A slug: [a-z0-9][a-z0-9-]{0,62}.",
                "anyOf": [["type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"],
                          ["type": "integer", "minimum": 0]],
            ],
            "email": [
                "description": "An email address such as alice@acme.example.",
                "type": "string", "pattern": #"^[^\s@"(),:;<>\[\]\\]+@[^\s@".]+(\.[^\s@".]+)+$"#,
            ],
            "date": ["description": "A date written YYYY-MM-DD.", "type": "string", "pattern": #"^\d{4}-\d{2}-\d{2}$"#],
            "count": count,
        ]
    }

    private static var members: JSONValue {
        nullable(["type": "array", "items": ["$ref": "#/$defs/Member"]],
                 "Users with roles on this scope; one entry per user.")
    }

    /// A document kind's mapping; its properties must be exactly the fields the decoder accepts.
    private static func object(_ kind: DocumentKind, _ description: String, _ properties: [String: JSONValue]) -> JSONValue {
        var all = properties
        all["kind"] = ["const": .string(kind.rawValue)]
        return closed(description, required: ["kind"] + kind.required, all)
    }

    private static func limits(_ description: String, key: String, _ keyDescription: String) -> JSONValue {
        nullable(closed("", [key: ref("count", keyDescription)]), description)
    }

    // MARK: roster.yaml

    static var config: JSONValue {
        [
            "$schema": .string(draft),
            "title": "roster.yaml",
            "description": "roster's project configuration (README: \"The files\"). Unknown keys are errors.",
            "type": "object",
            "additionalProperties": false,
            "required": ["version", "sources"],
            "properties": [
                "version": ["description": "Required. The format of this file: 1.", "enum": [1, "1"]],
                "sources": [
                    "description": .string("Required. Files, folders (every *.yaml, *.yml) or globs (*, ?, **) relative "
                        + "to this file; never outside its folder."),
                    "type": "array", "minItems": 1, "items": anyScalar,
                ],
                "state": nullable(["type": "string", "pattern": "^(sqlite:|postgres://|postgresql://)"],
                                  "The store: sqlite:PATH (relative to this file) or postgres://user@host:5432/db; "
                                      + "--state and ROSTER_STATE override. Default: sqlite:.roster/state.db."),
                "permissions": nullable([
                    "type": "object",
                    "additionalProperties": nullable(["type": "array", "items": ["type": "string", "not": ["const": "*"]]],
                                                     "The actions of this module."),
                ], "The catalogue: every module and the actions a role may grant."),
                "invitations": nullable(closed("", [
                    "ttl": ["description": "How long an invitation stays valid: s, m, h, d units (7d, 1d12h). Default: 7d.",
                            "type": "string", "pattern": "^([0-9]{1,9}[smhd])+$"],
                    "reissueExpired": [
                        "description": "Re-issue an expired invitation on the next plan. Default: true.",
                        "anyOf": [["type": "boolean"],
                                  ["type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff])$"]],
                    ],
                    "maxReissues": ref("count", "After this many re-issues the plan warns instead. Default: 3."),
                    "acceptUrl": ["description": "The accept link of an invitation; {token} is replaced by the token.",
                                  "type": "string", "pattern": #"\{token\}"#],
                    "delivery": [
                        "description": "How invitation messages are delivered (README: \"Invitations\"). Default: {kind: file, path: .roster/outbox}.",
                        "oneOf": [
                            closed("RFC 5322 .eml files in a folder.", required: ["kind"],
                                   ["kind": ["const": "file"], "path": scalarField("The folder, relative to roster.yaml. Default: .roster/outbox.")]),
                            closed("An HTTP POST of a JSON body signed with HMAC-SHA256.", required: ["kind", "url"],
                                   ["kind": ["const": "webhook"], "url": scalarField("Required. Where to POST."),
                                    "secretEnv": scalarField("The environment variable that holds the signing secret.")]),
                            closed("The message piped to a sendmail-compatible command.", required: ["kind"],
                                   ["kind": ["const": "sendmail"], "command": scalarField("Default: /usr/sbin/sendmail -t.")]),
                        ],
                    ],
                ]), "Invitations to new users."),
                "serve": nullable(closed("", [
                    "listen": ["description": "Where roster serve listens: HOST:PORT, an IPv6 host in brackets. Default: 127.0.0.1:8080.",
                               "type": "string", "pattern": #"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$"#],
                    "tokensEnv": ["description": "The environment variable holding roster serve's API tokens, comma-separated. Default: ROSTER_SERVE_TOKENS.",
                                  "type": "string", "minLength": 1],
                ]), "roster serve, the HTTP API (README: \"Serving the platform\")."),
                "safety": nullable(closed("", [
                    "maxUserDeactivations": ref("threshold", "Rail mass-deactivation: most users one plan may deactivate."),
                    "maxMembershipRemovals": ref("threshold", "Rail mass-removal: most memberships one plan may revoke."),
                ]), "Safety rails (README: \"Safety rails\"); a threshold counts only when at least 5 would be affected."),
                "limits": nullable(closed("", [
                    "accountsPerCustomer": ref("count", "Default for each customer; a customer may set limits.accounts."),
                    "membersPerAccount": ref("count", "Default for each account; an account may set limits.members."),
                ]), "Default limits; a customer or account may set its own."),
            ],
            "$defs": [
                "count": count,
                "threshold": [
                    "description": "An absolute number (10) or a percentage of active users or memberships (10%).",
                    "anyOf": [["type": "integer", "minimum": 0],
                              ["type": "string", "pattern": #"^([0-9]+|(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%)$"#]],
                ],
            ],
        ]
    }

    // MARK: Building blocks

    private static var count: JSONValue {
        ["description": "A whole number, 0 or more.",
         "anyOf": [["type": "integer", "minimum": 0], ["type": "string", "pattern": "^[0-9]+$"]]]
    }

    /// Any scalar: roster reads it as written, so `017` or `true` need no quotes.
    private static var anyScalar: JSONValue { ["type": ["string", "number", "boolean"]] }

    private static func scalarField(_ description: String) -> JSONValue {
        ["description": .string(description), "type": ["string", "number", "boolean"]]
    }

    /// Optional free text: any scalar, or null for "not set".
    private static func text(_ description: String) -> JSONValue {
        ["description": .string(description), "type": ["string", "number", "boolean", "null"]]
    }

    private static func ref(_ name: String, _ description: String? = nil, not excluded: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["$ref": .string("#/$defs/\(name)")]
        if let description { schema["description"] = .string(description) }
        if let excluded { schema["not"] = ["const": .string(excluded)] }
        return .object(schema)
    }

    private static func nullable(_ schema: JSONValue, _ description: String) -> JSONValue {
        ["description": .string(description), "anyOf": [schema, ["type": "null"]]]
    }

    /// A mapping that accepts only `properties` (unknown keys are errors, SPEC §2.1).
    private static func closed(_ description: String, required: [String] = [], _ properties: [String: JSONValue]) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "object", "properties": .object(properties), "additionalProperties": false]
        if !description.isEmpty { schema["description"] = .string(description) }
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        return .object(schema)
    }
}
