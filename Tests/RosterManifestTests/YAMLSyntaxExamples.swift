/// `yaml-syntax` examples: libyaml's common errors put as what to change, with libyaml's words
/// in a note. Each is a golden of everything `roster validate` prints for the file.
let yamlSyntaxExamples: [RuleExample] = [
    RuleExample(.yamlSyntax, document: """
    kind: User
    email: [carol@acme.example↓
    """, expected: """
    directory/case.yaml:2:27: error: the list opened with '[' on line 2 is not closed; end it with ']' (or quote the value, if the '[' is text) [yaml-syntax]
    directory/case.yaml:2:8: note: '[' opened here
    directory/case.yaml:2:27: note: libyaml: did not find expected ',' or ']' while parsing a flow sequence
    """),
    RuleExample(.yamlSyntax, document: """
    kind: User
    email: [carol@acme.example
    name↓: Carol
    """, expected: """
    directory/case.yaml:3:5: error: the list opened with '[' on line 2 is not closed; end it with ']' (or quote the value, if the '[' is text) [yaml-syntax]
    directory/case.yaml:2:8: note: '[' opened here
    directory/case.yaml:3:5: note: libyaml: did not find expected ',' or ']' while parsing a flow sequence
    """),
    RuleExample(.yamlSyntax, document: "kind: User\n↓\temail: carol@acme.example\n", expected: """
    directory/case.yaml:2:1: error: tabs cannot indent YAML; use spaces [yaml-syntax]
    directory/case.yaml:2:1: note: libyaml: found a tab character that violates indentation while scanning a plain scalar
    """),
    // Indentation: which line to indent like which earlier one.
    RuleExample(.yamlSyntax, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
        roles: [viewer]
       ↓- user: alice@acme.example
        roles: [viewer]
    """, expected: """
    directory/case.yaml:7:4: error: the list entry on line 7 has its '-' at column 4, but the list it belongs to (line 5) has its '-' at column 3; indent every '-' of one list alike [yaml-syntax]
    directory/case.yaml:5:3: note: the list starts here
    directory/case.yaml:7:4: note: libyaml: did not find expected '-' indicator while parsing a block collection
    """),
    RuleExample(.yamlSyntax, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
      ↓roles: [viewer]
    """, expected: """
    directory/case.yaml:6:3: error: 'roles' on line 6 does not fit the list that starts on line 5: indent it to column 5, like 'user', to add it to the entry above; start a new entry with '- ' at column 3; or indent it less than column 3 to end the list [yaml-syntax]
    directory/case.yaml:5:3: note: the list starts here
    directory/case.yaml:6:3: note: libyaml: did not find expected '-' indicator while parsing a block collection
    """),
    RuleExample(.yamlSyntax, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
        roles: [viewer]
          ↓expires: 2027-01-31
    """, expected: """
    directory/case.yaml:7:7: error: 'expires' on line 7 (column 7) does not line up with the keys of the mapping that starts on line 5: indent it to column 5, like 'user' [yaml-syntax]
    directory/case.yaml:5:5: note: the mapping starts here
    directory/case.yaml:7:7: note: libyaml: did not find expected key while parsing a block mapping
    """),
    RuleExample(.yamlSyntax, document: """
    kind: Account
    id: live
    customer: acme
    members:
      - user: bob@acme.example
     ↓roles: [viewer]
    """, expected: """
    directory/case.yaml:6:2: error: 'roles' on line 6 (column 2) does not line up with the keys of the mapping that starts on line 1: indent it to column 1, like 'kind', or to column 5, like 'user' on line 5 [yaml-syntax]
    directory/case.yaml:1:1: note: the mapping starts here
    directory/case.yaml:6:2: note: libyaml: did not find expected key while parsing a block mapping
    """),
    RuleExample(.yamlSyntax, document: """
    kind: User
    email: carol@acme.example
      ↓name: Carol
    """, expected: """
    directory/case.yaml:3:3: error: 'name' on line 3 is indented deeper than 'email' on line 2, so YAML reads it as more of that line's value; indent it to column 1, like 'email' [yaml-syntax]
    directory/case.yaml:2:1: note: the value it is read as part of starts on this line
    directory/case.yaml:3:7: note: libyaml: mapping values are not allowed in this context
    """),
    RuleExample(.yamlSyntax, document: """
    kind: User
    email: carol@acme.example
    name: Carol↓: the boss
    """, expected: """
    directory/case.yaml:3:12: error: the value on line 3 holds ': ', which YAML reads as the start of another key; put the value in quotes [yaml-syntax]
    directory/case.yaml:3:12: note: libyaml: mapping values are not allowed in this context
    """),
    RuleExample(.yamlSyntax, document: """
    kind: User
    ↓email carol@acme.example
    name: Carol
    """, expected: """
    directory/case.yaml:2:1: error: 'email' on line 2 is not followed by ':'; write 'email: VALUE', or quote it if it is text [yaml-syntax]
    directory/case.yaml:3:1: note: libyaml: could not find expected ':' while scanning a simple key
    """),
    RuleExample(.yamlSyntax, document: """
    kind: User
    email: carol@acme.example
    name: "Carol
    status: active↓
    """, expected: """
    directory/case.yaml:4:15: error: the quoted text that opens on line 3 is not closed; end it with a double quote [yaml-syntax]
    directory/case.yaml:3:7: note: the quoted text opens here
    directory/case.yaml:4:15: note: libyaml: found unexpected end of stream while scanning a quoted scalar
    """),
    RuleExample(.yamlSyntax, document: """
    kind: User
    email: ↓@carol
    """, expected: """
    directory/case.yaml:2:8: error: '@' cannot start a plain value; put the value in quotes [yaml-syntax]
    directory/case.yaml:2:8: note: libyaml: found character that cannot start any token while scanning for the next token
    """),
]
