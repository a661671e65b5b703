"""The schema and our validator: its keywords, its messages, and agreement with jsonschema."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.manifest import schema_issues
from modelstack.manifest.source import PathKey, parse_source
from modelstack.manifest.validator import SUPPORTED_KEYWORDS, SchemaIssue, validate
from modelstack.resources import SCHEMA_FILE

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / SCHEMA_FILE
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
EXAMPLES = sorted(ROOT.glob("examples/*/modelstack.yaml"))
EXAMPLE_DOCS = [parse_source(p.read_bytes(), str(p)).data for p in EXAMPLES]

# Where a schema keyword holds subschemas (not data): name -> how they are held.
_SUBSCHEMA_MAPS = ("properties", "$defs")
_SUBSCHEMA = ("items", "additionalProperties", "propertyNames", "if", "then")
_SUBSCHEMA_LISTS = ("allOf", "oneOf")


def subschemas(schema: dict[str, Any], where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in `schema` with its JSON pointer, the root first."""
    yield where, schema
    for keyword in _SUBSCHEMA_MAPS:
        for name, sub in schema.get(keyword, {}).items():
            yield from subschemas(sub, f"{where}/{keyword}/{name}")
    for keyword in _SUBSCHEMA:
        if isinstance(schema.get(keyword), dict):
            yield from subschemas(schema[keyword], f"{where}/{keyword}")
    for keyword in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(keyword, [])):
            yield from subschemas(sub, f"{where}/{keyword}/{index}")


def test_there_are_examples() -> None:
    assert {p.parent.name for p in EXAMPLES} >= {"iris", "digits-gpu"}


# -- the schema --------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].endswith("/" + SCHEMA_FILE)


def test_every_keyword_in_the_schema_is_supported() -> None:
    used = {keyword for _, sub in subschemas(SCHEMA) for keyword in sub}
    assert used - SUPPORTED_KEYWORDS == set()
    # The walk itself reaches the deep parts of the schema.
    assert {"oneOf", "if", "then", "propertyNames", "exclusiveMinimum", "$ref"} <= used


def test_every_property_has_a_title_and_a_description() -> None:
    missing = []
    for where, sub in subschemas(SCHEMA):
        if "/if" in where or "$ref" in sub:
            continue  # conditions and references are not properties people write
        parts = where.split("/")
        written = len(parts) > 2 and parts[-2] in ("properties", "$defs")
        written = written or parts[-1] in ("items", "additionalProperties")
        if written and not (sub.get("title") and sub.get("description")):
            missing.append(where)
    assert missing == []


def test_refs_resolve() -> None:
    for _, sub in subschemas(SCHEMA):
        if "$ref" in sub:
            node: Any = SCHEMA
            for part in sub["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            assert isinstance(node, dict)


@pytest.mark.parametrize("doc", EXAMPLE_DOCS, ids=[p.parent.name for p in EXAMPLES])
def test_examples_are_valid(doc: dict[str, Any]) -> None:
    assert validate(doc, SCHEMA) == []
    assert jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)


# -- agreement with jsonschema -----------------------------------------------------------------


def enum_values(schema: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for _, sub in subschemas(schema):
        values.extend(sub.get("enum", []))
        if "const" in sub:
            values.append(sub["const"])
    return values


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 20_000),
    st.sampled_from([0, 1, 4, 100, 128, 900, 901, 10240, 10241, 1024.0, 0.5, -1, 2**40]),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(enum_values(SCHEMA)),
    st.sampled_from(
        [
            "modelstack.dev/v2",
            "Iris",
            "1.0.0",
            "us-east-1",
            "eu-west-1",
            "16Gi",
            "512Mi",
            "8",
            "model.onnx",
            "a" * 64,
            "cron(0 8 * * ? *)",
            "x" * 300,
            "",
            "nvidia-l4",
            "batch.npz",
            "inputs.txt",
            "python:3.12-slim",
            "numpy==2.0",
            "numpy",
            "arn:aws:kms:k",
            "serviceAccount:a@b",
            "projects/p/cryptoKeys/k",
            "name@p.iam.gserviceaccount.com",
        ]
    ),
    st.lists(st.integers(-2, 200), max_size=4),
    st.just({}),
    st.just({"data": [1.0]}),
    st.just({"provider": "local"}),
).map(copy.deepcopy)  # fresh objects: mutations must not leak into later examples
keys = st.one_of(
    st.text(max_size=6),
    st.sampled_from(
        [
            "memroy_mb",
            "memory_mb",
            "timeout_s",
            "gpu",
            "cpu",
            "inputs",
            "inputs_file",
            "argmax",
            "top_k",
            "steps",
            "provider",
            "Prod",
            "name",
            "schedules",
            "signature",
            "extra",
        ]
    ),
)


def all_paths(doc: Any, prefix: PathKey = ()) -> list[PathKey]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, item in doc.items():
            found.extend(all_paths(item, (*prefix, key)))
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            found.extend(all_paths(item, (*prefix, index)))
    return found


def at(doc: Any, path: PathKey) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(EXAMPLE_DOCS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(all_paths(doc)))
        operation = draw(st.sampled_from(["delete", "add", "replace", "replace"]))
        if not path:
            if operation == "add":
                doc[draw(keys)] = draw(values)
            continue
        parent, last = at(doc, path[:-1]), path[-1]
        if operation == "delete":
            del parent[last]
        elif operation == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        elif operation == "add":
            parent.append(draw(values))
        else:
            parent[last] = draw(values)
    return doc


@settings(max_examples=600, deadline=None)
@given(mutated_documents())
def test_agrees_with_jsonschema(doc: Any) -> None:
    ours = validate(doc, SCHEMA)
    theirs = jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
    assert (ours == []) == theirs, ours


def boundary_cases() -> list[tuple[str, Any]]:
    """Values on and next to every bound in the schema, with the subschema they test."""
    cases: list[tuple[str, Any]] = []
    for where, sub in subschemas(SCHEMA):
        for keyword in ("minimum", "maximum", "exclusiveMinimum"):
            if keyword in sub:
                bound = sub[keyword]
                cases += [
                    (where, v) for v in (bound - 1, bound, bound + 1, bound - 0.5, bound + 0.5)
                ]
        for keyword in ("minLength", "maxLength"):
            if keyword in sub:
                cases += [
                    (where, "a" * n) for n in range(max(sub[keyword] - 1, 0), sub[keyword] + 2)
                ]
        for keyword in ("minItems", "maxItems", "minProperties"):
            if keyword in sub:
                for n in range(max(sub[keyword] - 1, 0), sub[keyword] + 2):
                    item = sub.get("items", {}).get("default", 1)
                    cases.append(
                        (
                            where,
                            {f"k{i}": {} for i in range(n)} if "Prop" in keyword else [item] * n,
                        )
                    )
        for value in sub.get("enum", []):
            cases += [(where, value), (where, f"{value}x" if isinstance(value, str) else value + 1)]
    return cases


def test_bounds_and_enums_agree_with_jsonschema() -> None:
    outcomes = set()
    for where, value in boundary_cases():
        sub = {**pointer(where), "$defs": SCHEMA["$defs"]}
        ours = validate(value, sub) == []
        theirs = jsonschema.Draft202012Validator(sub).is_valid(value)
        assert ours == theirs, (where, value)
        outcomes.add(ours)
    assert outcomes == {True, False}


def pointer(where: str) -> dict[str, Any]:
    node: Any = SCHEMA
    for part in where.removeprefix("#").strip("/").split("/"):
        if part:
            node = node[int(part)] if isinstance(node, list) else node[part]
    return dict(node)


def test_the_validators_agree_on_hand_picked_mutations() -> None:
    """One mutation each way, so a validator that accepts (or rejects) everything fails here."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    valid = copy.deepcopy(EXAMPLE_DOCS[0])
    valid["targets"]["extra"] = {"provider": "local", "port": 9000.0}
    assert validate(valid, SCHEMA) == []
    assert validator.is_valid(valid)
    invalid = copy.deepcopy(EXAMPLE_DOCS[0])
    invalid["targets"]["extra"] = {"provider": "local", "port": 80}
    assert [i.path for i in validate(invalid, SCHEMA)] == [("targets", "extra", "port")]
    assert not validator.is_valid(invalid)


# -- messages ----------------------------------------------------------------------------------

BASE = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata:
  name: iris
  version: 1.0.0
model:
  path: model.onnx
  sha256: 9ea86fb53c2fa87900721eff8c341756ac782f5377a38b6e6e3f9fe2cc194f89
targets:
  prod:
    provider: aws-lambda
    region: eu-west-1
"""


def issues_of(text: str) -> list[tuple[str, int, int]]:
    """(message, line, column) of each schema issue, positions 1-based."""
    source = parse_source(text, "m.yaml")
    result = []
    for issue in schema_issues(source):
        position = source.position(issue.path, key=issue.at_key)
        result.append((issue.message, position.line, position.column))
    return result


def test_base_document_is_valid() -> None:
    assert issues_of(BASE) == []


def test_enum_lists_the_allowed_values_and_suggests_the_closest() -> None:
    ((message, line, column),) = issues_of(BASE + "rollout:\n  strategy: canery\n")
    assert "'canery' is not allowed" in message
    assert "use one of: all-at-once, canary, linear" in message
    assert "Did you mean 'canary'?" in message
    assert (line, column) == (14, 13)


def test_enum_without_a_close_value_has_no_suggestion() -> None:
    ((message, _, _),) = issues_of(BASE + "rollout:\n  strategy: zzz\n")
    assert "use one of: all-at-once, canary, linear" in message
    assert "Did you mean" not in message


def test_unknown_key_suggests_the_closest_and_points_at_the_key() -> None:
    ((message, line, column),) = issues_of(BASE + "    memroy_mb: 2048\n")
    assert message == "unknown key 'memroy_mb'. Did you mean 'memory_mb'?"
    assert (line, column) == (13, 5)


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    ((message, line, column),) = issues_of(BASE + "rollout:\n  zzz: 1\n")
    assert "unknown key 'zzz'; allowed keys here: " in message
    assert "interval_s, max_error_rate, rollback_on_failure, steps, strategy" in message
    assert (line, column) == (14, 3)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "apiVersion: modelstack.dev/v1",
            "apiVersion: modelstack.dev/v2",
            "unsupported apiVersion 'modelstack.dev/v2'; supported: 'modelstack.dev/v1'",
        ),
        (
            "kind: ModelService",
            "kind: Deployment",
            "unsupported kind 'Deployment'; supported: 'ModelService'",
        ),
    ],
)
def test_wrong_api_version_or_kind_says_what_is_supported(
    old: str, new: str, expected: str
) -> None:
    ((message, line, column),) = issues_of(BASE.replace(old, new))
    assert message == expected
    assert column == len(new.split(":")[0]) + 3
    assert line == (1 if old.startswith("apiVersion") else 2)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("    memory_mb: lots\n", "expected an integer, got a string ('lots')"),
        ("    memory_mb: 1.5\n", "expected an integer, got a number (1.5)"),
        ("    memory_mb: true\n", "expected an integer, got true or false (true)"),
        ("    environment: [A]\n", "expected a mapping, got a list (1 item)"),
        ("    tracing: 'yes'\n", "expected true or false, got a string ('yes')"),
    ],
)
def test_wrong_type_says_expected_and_got(line: str, expected: str) -> None:
    ((message, line_no, column),) = issues_of(BASE + line)
    assert message == expected
    assert (line_no, column) == (13, line.index(":") + 3)


def test_missing_required_key_names_it_and_where() -> None:
    ((message, line, column),) = issues_of(BASE.replace("  version: 1.0.0\n", ""))
    assert message.startswith("missing required key 'version' in metadata: ")
    assert "The model's version" in message
    assert (line, column) == (4, 3)  # the metadata mapping


def test_missing_required_top_level_key() -> None:
    text = BASE[: BASE.index("targets:")]
    ((message, line, column),) = issues_of(text)
    assert message.startswith("missing required key 'targets': ")
    assert (line, column) == (1, 1)


def test_pattern_quotes_the_description() -> None:
    ((message, line, column),) = issues_of(BASE.replace("name: iris", "name: Iris"))
    assert message.startswith("'Iris' is not valid here. A DNS label")
    assert (line, column) == (4, 9)


def test_invalid_target_name_points_at_the_key() -> None:
    ((message, line, column),) = issues_of(BASE.replace("  prod:", "  Prod:"))
    assert message.startswith("invalid name 'Prod'")
    assert (line, column) == (10, 3)


def test_range_messages() -> None:
    assert issues_of(BASE + "    reserved_concurrency: -1\n")[0][0] == (
        "-1 is too small; the minimum is 0"
    )
    text = BASE + "rollout:\n  max_error_rate: 2\n"
    assert issues_of(text)[0][0] == "2 is too large; the maximum is 1"


SMOKE = BASE + "smoke_tests:\n  - name: a\n"


def test_smoke_test_needs_exactly_one_source_of_inputs() -> None:
    ((message, line, column),) = issues_of(SMOKE)
    assert message == "give 'inputs' or 'inputs_file'"
    assert (line, column) == (14, 5)
    both = SMOKE + "    inputs_file: a.npz\n    inputs: {x: {data: [1]}}\n"
    assert [m for m, _, _ in issues_of(both)] == [
        "give only one of 'inputs' or 'inputs_file', not both"
    ]


def test_provider_selects_the_target_schema() -> None:
    text = BASE.replace("provider: aws-lambda", "provider: gcp-cloud-run")
    messages = [m for m, _, _ in issues_of(text)]
    assert any(m.startswith("missing required key 'project' in targets.prod") for m in messages)


def test_issues_are_in_document_order() -> None:
    text = BASE.replace("name: iris", "name: Iris") + "    memory_mb: x\n"
    lines = [line for _, line, _ in issues_of(text)]
    assert lines == sorted(lines) == [4, 13]


def test_schema_issue_is_a_value() -> None:
    issue = SchemaIssue(("a",), "m", at_key=True)
    assert issue == SchemaIssue(("a",), "m", at_key=True)


@pytest.mark.parametrize(
    ("line", "secret", "kind"),
    [
        (
            "    kms_key_arn: postgres://admin:hunter2@db.internal/app\n",
            "hunter2",
            "a password in a URL",
        ),
        ("    architecture: AKIAQWERTYUIOPASDFGH\n", "QWERTYUIOP", "an AWS access key id"),
        ("    environment:\n      DB_PASS: 1234567890\n", "1234567890", "its key names one"),
        ("    environment: [hunter2-hunter2]\n", "hunter2", ""),
        ("    AKIAQWERTYUIOPASDFGH: 1\n", "QWERTYUIOP", "an AWS access key id"),
    ],
)
def test_schema_messages_never_echo_a_secret(line: str, secret: str, kind: str) -> None:
    issues = issues_of(BASE + line)
    assert issues
    for message, _, _ in issues:
        assert secret not in message
    assert kind in " ".join(m for m, _, _ in issues)


def test_schema_messages_still_quote_ordinary_values() -> None:
    ((message, _, _),) = issues_of(BASE + "    architecture: arm\n")
    assert "'arm' is not allowed" in message


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nAKIAQWERTYUIOPASDFGH: 1\nAKIAQWERTYUIOPASDFGH: 2\n",
        "a: !!int AKIAQWERTYUIOPASDFGH\n",
    ],
)
def test_parse_errors_never_echo_a_secret(text: str) -> None:
    from modelstack.errors import ManifestParseError

    with pytest.raises(ManifestParseError) as caught:
        parse_source(text, "m.yaml")
    assert "QWERTYUIOP" not in str(caught.value)
    assert "an AWS access key id" in str(caught.value)
