#!/usr/bin/env python3
"""Check YAML files against one of roster's JSON Schemas with an independent validator.

Usage: scripts/check-schema.py SCHEMA FILE...

SCHEMA is the output of `roster schema` (or `roster schema --kind config`). Every document
of every FILE (files may hold many, separated by ---) is checked with jsonschema's
Draft202012Validator, after the schema itself is checked against the draft.

YAML is read as editors read it (yaml-language-server: YAML 1.2's core schema), not as
PyYAML's YAML 1.1 default: only true/false are booleans, 017 is 17, and `no`, `on` and
2027-01-31 stay strings. That is what an editor hands the schema, so it is what to test.

Prints one line per problem, `FILE: document N: at PATH: message`, and exits 0 when every
document is valid, 1 when any is not, 2 when the schema, a file or a Python module is missing
or broken (scripts/test installs jsonschema).
"""
import json
import re
import sys

try:
    import yaml
    from jsonschema import Draft202012Validator
except ImportError as missing:
    print(f"error: the Python module '{missing.name}' is missing; install it with "
          f"'python3 -m pip install jsonschema pyyaml' (scripts/test does)", file=sys.stderr)
    sys.exit(2)


class CoreSchemaLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core schema scalars instead of YAML 1.1's."""


_YAML11_ONLY = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
CoreSchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    return int(text, 0) if text[:2] in ("0o", "0x") else int(text, 10)


CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def most_telling(error):
    """The problems behind an error: for 'not valid under any/exactly one of the given schemas',
    those in the likeliest branch, recursively. The likeliest branch is one whose `kind` matched
    (its errors include no failed `const`), then the one that got furthest into the value (the
    list branch of a nullable list, not the null one)."""
    if not error.context:
        return [error]
    branches = {}
    for inner in error.context:
        branches.setdefault(inner.relative_schema_path[0], []).append(inner)

    def likelihood(errors):
        return (all(e.validator != "const" for e in errors),
                max((len(e.absolute_path), e.validator != "type") for e in errors))

    chosen = max(branches.values(), key=likelihood)
    return [leaf for inner in chosen for leaf in most_telling(inner)]


def main(arguments):
    if len(arguments) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schema_path, files = arguments[0], arguments[1:]
    try:
        with open(schema_path, encoding="utf-8") as handle:
            schema = json.load(handle)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError) as error:
        print(f"error: {schema_path}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # jsonschema's SchemaError: the schema breaks the draft's rules
        print(f"error: {schema_path} is not a valid draft 2020-12 schema: {error}", file=sys.stderr)
        return 2
    validator = Draft202012Validator(schema)

    problems = 0
    documents = 0
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                loaded = list(yaml.load_all(handle, Loader=CoreSchemaLoader))
        except (OSError, yaml.YAMLError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            return 2
        for number, document in enumerate(loaded, start=1):
            documents += 1
            errors = sorted((leaf for e in validator.iter_errors(document) for leaf in most_telling(e)),
                            key=lambda e: (list(map(str, e.absolute_path)), e.message))
            for error in errors:
                where = "/" + "/".join(str(part) for part in error.absolute_path)
                print(f"{path}: document {number}: at {where}: {error.message}")
                problems += 1
    print(f"Checked {documents} documents in {len(files)} files against {schema_path}: {problems} problems.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
