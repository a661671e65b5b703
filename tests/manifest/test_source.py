"""The safe YAML loader: positions, refusals of hostile or broken input, and round trips."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.errors import ManifestFileError, ManifestParseError, SourcePosition, UsageError
from modelstack.lint import lint_file
from modelstack.manifest import schema_issues
from modelstack.manifest.source import (
    MAX_DEPTH,
    MAX_MANIFEST_BYTES,
    PathKey,
    Source,
    load_source,
    parse_source,
)

ROOT = Path(__file__).resolve().parents[2]

DOC = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata:
  name: iris
  labels: {team: ml}
targets:
  prod:
    provider: aws-lambda
    memory_mb: 1024
rollout:
  steps: [10, 50, 100]
smoke_tests:
  - name: a
    inputs:
      x: {data: [[1, 2]]}
"""


def parse_error(raw: bytes | str) -> ManifestParseError:
    with pytest.raises(ManifestParseError) as info:
        parse_source(raw, "m.yaml")
    return info.value


# -- positions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key", "line", "column"),
    [
        ((), False, 1, 1),
        (("kind",), True, 2, 1),
        (("kind",), False, 2, 7),
        (("metadata", "name"), True, 4, 3),
        (("metadata", "name"), False, 4, 9),
        (("metadata", "labels", "team"), True, 5, 12),
        (("metadata", "labels", "team"), False, 5, 18),
        (("targets", "prod", "memory_mb"), True, 9, 5),
        (("targets", "prod", "memory_mb"), False, 9, 16),
        (("rollout", "steps", 2), False, 11, 19),
        (("smoke_tests", 0), False, 13, 5),
        (("smoke_tests", 0, "name"), True, 13, 5),
        (("smoke_tests", 0, "inputs", "x", "data", 0, 1), False, 15, 22),
        # A path that is not in the document falls back to its nearest known parent.
        (("targets", "prod", "timeout_s"), False, 8, 5),
        (("targets", "prod", "timeout_s"), True, 7, 3),
        (("rollout", "steps", 7), False, 11, 10),
    ],
)
def test_positions_are_one_based(path: PathKey, key: bool, line: int, column: int) -> None:
    source = parse_source(DOC, "m.yaml")
    position = source.position(path, key=key)
    assert (position.file, position.line, position.column) == ("m.yaml", line, column)


def test_columns_count_characters_not_bytes() -> None:
    source = parse_source("{é: 1, b: 2}\n")
    assert source.position(("b",), key=True).column == 8


# -- refusals ------------------------------------------------------------------------------------


def test_duplicate_key_names_both_lines() -> None:
    error = parse_error("a: 1\nmetadata:\n  name: x\n  version: 1\n  name: y\n")
    assert error.position.line == 5
    assert error.position.column == 3
    assert "duplicate key 'name'" in error.reason
    assert "line 3" in error.reason
    assert str(error).startswith("m.yaml:5:3: ")


@pytest.mark.parametrize(
    ("text", "line", "column", "problem"),
    [
        ("a:\n\tb: 1\n", 2, 1, "cannot start any token"),
        ("apiVersion: v1\nkind: a: b\n", 2, 8, "mapping values are not allowed"),
    ],
)
def test_malformed_yaml_reports_the_error_position(
    text: str, line: int, column: int, problem: str
) -> None:
    error = parse_error(text)
    assert (error.position.line, error.position.column) == (line, column)
    assert error.reason.startswith("invalid YAML: ")
    assert problem in error.reason


@pytest.mark.parametrize("text", ["", "   \n\n", "# nothing but a comment\n", b""])
def test_empty_file(text: str | bytes) -> None:
    error = parse_error(text)
    assert "empty" in error.reason
    assert (error.position.line, error.position.column) == (1, 1)


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a single value")]
)
def test_top_level_that_is_not_a_mapping(text: str, kind: str, tmp_path: Path) -> None:
    issues = schema_issues(parse_source(text))
    assert len(issues) == 1
    assert issues[0].path == ()
    assert f"the top level is {kind}" in issues[0].message
    assert "apiVersion: modelstack.dev/v1" in issues[0].message

    path = tmp_path / "modelstack.yaml"
    path.write_text(text)
    (diagnostic,) = lint_file(path)
    assert (diagnostic.rule_id, diagnostic.line, diagnostic.column) == ("MS001", 1, 1)
    assert f"the top level is {kind}" in diagnostic.message


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_non_utf8_names_the_byte_offset_in_the_file(bom: bytes) -> None:
    raw = bom + b"a: 1\nb: caf\xe9\n"
    error = parse_error(raw)
    assert f"byte 0xe9 at offset {len(bom) + 11}" in error.reason
    assert "UTF-8" in error.reason
    assert (error.position.line, error.position.column) == (2, 7)


def test_utf8_bom_is_accepted() -> None:
    source = parse_source(b"\xef\xbb\xbfkind: ModelService\nname: caf\xc3\xa9\n")
    assert source.data == {"kind": "ModelService", "name": "café"}
    assert source.position(("kind",), key=True).column == 1


def test_nul_bytes_are_refused_at_their_position() -> None:
    error = parse_error(b"a: 1\nb: x\x00y\n")
    assert "NUL" in error.reason
    assert (error.position.line, error.position.column) == (2, 5)


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/object/apply:os.system {{args: ['touch {marker}']}}",
        "!!binary aGVsbG8=",
        "!!set {{a, b}}",
        "!custom x",
    ],
)
def test_unsupported_tags_are_refused_without_running_anything(value: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    error = parse_error("apiVersion: modelstack.dev/v1\nmetadata: " + value.format(marker=marker))
    assert "unsupported YAML tag" in error.reason
    assert (error.position.line, error.position.column) == (2, 11)
    assert not marker.exists()


def test_unsupported_tag_on_a_key_is_refused() -> None:
    error = parse_error("? !!python/name:os.system\n: 1\n")
    assert "unsupported YAML tag" in error.reason


@pytest.mark.parametrize(
    ("text", "shown"),
    [("a: !!int abc\n", "'abc' is not a valid int"), ("a: !!bool maybe\n", "valid bool")],
)
def test_explicit_scalar_tag_with_a_bad_value(text: str, shown: str) -> None:
    error = parse_error(text)
    assert shown in error.reason
    assert (error.position.line, error.position.column) == (1, 4)


def billion_laughs(levels: int = 9) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        name, previous = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly_and_in_bounded_memory() -> None:
    text = billion_laughs()  # 10**9 leaves once expanded
    start = time.perf_counter()
    error = parse_error(text)
    assert time.perf_counter() - start < 2.0
    assert "billion laughs" in error.reason

    tracemalloc.start()
    try:
        parse_error(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: {c: *a}}\n"])
def test_recursive_alias_is_refused(text: str) -> None:
    error = parse_error(text)
    assert "recursive" in error.reason


def test_shared_aliases_are_expanded() -> None:
    source = parse_source("a: &x {k: 1}\nb: [*x, *x]\n")
    assert source.data == {"a": {"k": 1}, "b": [{"k": 1}, {"k": 1}]}
    assert source.data["b"][0] is not source.data["b"][1]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("[" * 100_000 + "]" * 100_000, 1, MAX_DEPTH + 1),
        ("- " * 100_000 + "x\n", 1, 2 * MAX_DEPTH + 1),
        ("a: " + "{b: " * 500 + "1", 1, 4 + 4 * (MAX_DEPTH - 1)),  # refused before the parse error
    ],
)
def test_deep_nesting_is_refused_before_composing(text: str, line: int, column: int) -> None:
    error = parse_error(text)
    assert f"nested more than {MAX_DEPTH} levels deep" in error.reason
    # At the level past the limit, or later where a libyaml build with its own nesting limit
    # stops first while reading ahead (PyYAML 6.0.4 wheels do).
    assert error.position.line == line and error.position.column >= column


def test_nesting_up_to_the_limit_is_accepted() -> None:
    source = parse_source("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    depth, value = 0, source.data
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == MAX_DEPTH
    assert "levels deep" in parse_error("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).reason


def test_oversize_manifest_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "modelstack.yaml"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: instant, takes no disk

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("an oversize file reached the YAML parser")

    monkeypatch.setattr(yaml, "compose", no_parsing)
    monkeypatch.setattr(yaml, "parse", no_parsing)
    with pytest.raises(ManifestParseError) as info:
        load_source(path)
    assert "104,857,600 bytes" in info.value.reason
    assert f"{MAX_MANIFEST_BYTES:,}" in info.value.reason
    (diagnostic,) = lint_file(path)
    assert (diagnostic.rule_id, diagnostic.line, diagnostic.column) == ("MS000", 1, 1)
    assert "104,857,600 bytes" in diagnostic.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestParseError) as info:
        load_source(tmp_path / "absent.yaml")
    assert "cannot read the manifest" in info.value.reason


def test_timestamps_and_keys_become_strings() -> None:
    source = parse_source("released: 2024-05-01\n1: one\ntrue: yes\n")
    assert source.data == {"released": "2024-05-01", "1": "one", "true": True}


# -- properties --------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equality that also tells True from 1 and 1 from 1.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def paths(value: Any, prefix: PathKey = ()) -> list[tuple[PathKey, bool]]:
    """Every (path, is_mapping_entry) in a document."""
    found: list[tuple[PathKey, bool]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(((*prefix, key), True))
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append(((*prefix, index), False))
            found.extend(paths(item, (*prefix, index)))
    return found


def scalar_text(source: Source, path: PathKey, key: bool) -> str:
    span = (source.keys if key else source.values)[path]
    lines = source.text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: span.line]) + span.column
    end = sum(len(line) for line in lines[: span.end_line]) + span.end_column
    return source.text[start:end]


@settings(max_examples=150, deadline=None)
@given(documents, st.sampled_from([None, True, False]))
def test_round_trip_keeps_data_and_positions(document: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, sort_keys=False)
    source = parse_source(text)
    assert same(source.data, document)
    assert () in source.values
    for path, is_entry in paths(document):
        assert path in source.values
        assert (path in source.keys) is is_entry
    # The span of every key and every scalar covers exactly that key's or scalar's text.
    for path, is_entry in paths(document):
        if is_entry:
            assert yaml.safe_load(scalar_text(source, path, key=True)) == path[-1]
    for path, _ in [((), False), *paths(document)]:
        value = leaf(document, path)
        if not isinstance(value, (dict, list)):
            assert same(yaml.safe_load(scalar_text(source, path, key=False)), value)


def leaf(document: Any, path: PathKey) -> Any:
    for part in path:
        document = document[part]
    return document


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_input_parses_or_raises_manifest_parse_error(raw: str | bytes) -> None:
    try:
        source = parse_source(raw)
    except ManifestParseError as error:
        assert error.position.line >= 1
        assert error.position.column >= 1
    else:
        root = source.values[()]
        assert root.start("f").line >= 1 and root.start("f").column >= 1


yaml_fragments = st.lists(
    st.sampled_from(
        ["a", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!!int ", "!!str ",
         "'", '"', "? ", "#", "---", "1", "true", "null", "<<: ", "|", ">", "\t", "é"]
    ),
    max_size=40,
).map("".join)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(yaml_fragments)
def test_yaml_like_input_parses_or_raises_manifest_parse_error(text: str) -> None:
    try:
        source = parse_source(text)
    except ManifestParseError as error:  # positions stay inside the text (or at its very end)
        assert 1 <= error.position.line <= text.count("\n") + 2
        assert error.position.column >= 1
    else:
        assert () in source.values


# -- bounded reads of regular files only ----------------------------------------------------

BOUNDED_PROBE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
from modelstack.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_bounded(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`modelstack ARGV` in a fresh interpreter capped at 1.5 GiB of address space."""
    return subprocess.run(
        [sys.executable, "-c", BOUNDED_PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )


def test_discovered_device_is_ms000_and_the_other_manifests_are_still_linted(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "modelstack.yaml").symlink_to("/dev/zero")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "modelstack.yaml").write_text("apiVersion: modelstack.dev/v1\n", "utf-8")
    result = run_bounded("lint", "--no-model-checks", "--format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    found = {(d["file"], d["rule_id"]) for d in json.loads(result.stdout)}
    assert ("a/modelstack.yaml", "MS000") in found
    assert ("b/modelstack.yaml", "MS001") in found  # linted after the device
    device = next(d for d in json.loads(result.stdout) if d["rule_id"] == "MS000")
    assert "character device, not a regular file" in device["message"]


@pytest.mark.parametrize("special", ["/dev/urandom", "/dev/zero", "fifo"])
def test_a_special_file_given_on_the_command_line_is_a_usage_error(
    special: str, tmp_path: Path
) -> None:
    if special == "fifo":
        os.mkfifo(tmp_path / "fifo")  # nobody writes to it: reading would wait forever
    result = run_bounded("lint", special, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def make_socket(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    return server


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket"])
def test_load_source_refuses_what_is_not_a_regular_file(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "modelstack.yaml"
    opened = []
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        opened.append(make_socket(path))
    try:
        with pytest.raises(ManifestFileError) as info:
            load_source(path)
    finally:
        for sock in opened:
            sock.close()
    assert info.value.exit_code == 2
    assert info.value.position == SourcePosition(str(path), 1, 1)
    assert "not a regular file" in info.value.reason
    assert lint_file(path)[0].rule_id == "MS000"


def test_a_nul_byte_in_the_manifest_path_is_a_clear_error() -> None:
    with pytest.raises(ManifestParseError, match="NUL byte"):
        load_source("model\x00.yaml")


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(min_value=16, max_value=256), size=st.integers(min_value=0, max_value=300))
def test_the_manifest_limit_is_a_setting_and_nothing_past_it_is_read(
    limit: int, size: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("limit") / "modelstack.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * max(0, size - 5))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSTACK_MAX_MANIFEST_BYTES", str(limit))
        if path.stat().st_size > limit:
            with pytest.raises(ManifestParseError) as info:
                load_source(path)
            assert "MODELSTACK_MAX_MANIFEST_BYTES" in info.value.reason
        else:
            assert load_source(path).data == {"a": 1}


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1e6"])
def test_a_bad_limit_setting_is_a_usage_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSTACK_MAX_MANIFEST_BYTES", value)
    with pytest.raises(UsageError, match="MODELSTACK_MAX_MANIFEST_BYTES"):
        load_source(ROOT / "examples" / "iris" / "modelstack.yaml")
