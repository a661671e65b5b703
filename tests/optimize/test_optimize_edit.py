"""The manifest edit behind `modelstack optimize`: only model.path and model.sha256 change,
whatever the comments, quoting and layout around them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelstack.errors import EvaluationError
from modelstack.manifest import manifest_from_source
from modelstack.manifest.source import parse_source
from modelstack.optimize.edit import edit_model_fields

OLD_SHA = "ab" * 32
NEW_SHA = "cd" * 32

comment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30
).map(lambda s: f"  # {s}" if s else "")
quote = st.sampled_from(["", "'", '"'])
indent = st.sampled_from([2, 4])
newline = st.sampled_from(["\n", "\r\n"])


@st.composite
def manifests(draw: st.DrawFn) -> str:
    nl, pad = draw(newline), " " * draw(indent)
    q_path, q_sha = draw(quote), draw(quote)
    path_line = f"{pad}path: {q_path}model.onnx{q_path}{draw(comment)}"
    sha_line = f"{pad}sha256: {q_sha}{OLD_SHA}{q_sha}{draw(comment)}"
    model_lines = [path_line, sha_line]
    if draw(st.booleans()):
        model_lines.reverse()
    blank = [""] if draw(st.booleans()) else []
    if draw(st.booleans()):
        model_block = [
            f"model: {{path: {q_path}model.onnx{q_path}, sha256: {q_sha}{OLD_SHA}{q_sha}}}"
        ]
    else:
        model_block = ["model:" + draw(comment), *blank, *model_lines]
    lines = [
        "# a manifest" + draw(comment),
        "apiVersion: modelstack.dev/v1",
        "kind: ModelService",
        *blank,
        "metadata:" + draw(comment),
        f"{pad}name: m",
        f"{pad}version: '1'",
        *model_block,
        "targets:",
        f"{pad}dev: {{provider: local}}" + draw(comment),
    ]
    return nl.join(lines) + draw(st.sampled_from(["", nl, nl + "# end" + nl]))


@given(manifests())
def test_only_path_and_sha256_change(text: str) -> None:
    edited = edit_model_fields(text, "m.yaml", path="model.dynamic-int8.onnx", sha256=NEW_SHA)
    before = manifest_from_source(parse_source(text, "m.yaml"))
    after = manifest_from_source(parse_source(edited, "m.yaml"))
    assert (after.model.path, after.model.sha256) == ("model.dynamic-int8.onnx", NEW_SHA)
    assert after.source.data["targets"] == before.source.data["targets"]
    # Every other character is as it was: undo the two replacements and get the original.
    restored = edited.replace("model.dynamic-int8.onnx", "model.onnx").replace(NEW_SHA, OLD_SHA)
    assert restored == text


def test_a_multi_line_scalar_is_left_for_a_person() -> None:
    text = (
        "apiVersion: modelstack.dev/v1\nkind: ModelService\nmetadata: {name: m, version: '1'}\n"
        f"model:\n  path: >-\n    model.onnx\n  sha256: {OLD_SHA}\n"
        "targets: {dev: {provider: local}}\n"
    )
    with pytest.raises(EvaluationError, match=r"model\.path is not written as a one-line"):
        edit_model_fields(text, "m.yaml", path="model.fp16.onnx", sha256=NEW_SHA)
