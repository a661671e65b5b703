"""Content-addressed tags: same inputs, same tag; any changed input, a different tag."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from modelstack.image.tags import TAG_HEX_DIGITS, content_digest, content_tag, repository_name

paths = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_./-", min_size=1, max_size=20)
files = st.dictionaries(paths, st.binary(max_size=64), min_size=1, max_size=6)
settings = st.dictionaries(
    st.sampled_from(["platform", "flavour", "base"]), st.text(max_size=12), max_size=3
)


@given(files, settings)
def test_same_inputs_same_tag(f: dict[str, bytes], s: dict[str, str]) -> None:
    assert content_tag("iris", f, s) == content_tag("iris", dict(reversed(f.items())), dict(s))


@given(files, settings, st.data())
def test_changing_any_file_changes_the_tag(
    f: dict[str, bytes], s: dict[str, str], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(f)))
    changed = data.draw(st.binary(max_size=64).filter(lambda b: b != f[key]))
    assert content_digest({**f, key: changed}, s) != content_digest(f, s)


@given(files, settings, paths)
def test_adding_or_renaming_a_file_changes_the_tag(
    f: dict[str, bytes], s: dict[str, str], new: str
) -> None:
    if new in f:
        return
    assert content_digest({**f, new: b""}, s) != content_digest(f, s)
    first = sorted(f)[0]
    renamed = {(new if k == first else k): v for k, v in f.items()}
    assert content_digest(renamed, s) != content_digest(f, s)


@given(files, settings, st.text(min_size=1, max_size=12))
def test_changing_a_setting_changes_the_tag(
    f: dict[str, bytes], s: dict[str, str], value: str
) -> None:
    changed = {**s, "platform": s.get("platform", "") + value}
    assert content_digest(f, changed) != content_digest(f, s)


def test_moving_bytes_between_path_and_content_changes_the_tag() -> None:
    # Length prefixes: ("ab", "c") and ("a", "bc") must not hash alike.
    assert content_digest({"ab": b"c"}, {}) != content_digest({"a": b"bc"}, {})
    assert content_digest({}, {"ab": "c"}) != content_digest({}, {"a": "bc"})


def test_a_file_on_disk_hashes_like_its_bytes(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07onnx")
    assert content_digest({"model/model.onnx": model}, {}) == content_digest(
        {"model/model.onnx": b"\x08\x07onnx"}, {}
    )


def test_tag_format() -> None:
    tag = content_tag("Iris Model", {"Dockerfile": b"FROM x"}, {})
    repository, _, suffix = tag.partition(":")
    assert repository == "modelstack/iris-model" == repository_name("Iris Model")
    assert len(suffix) == TAG_HEX_DIGITS
    assert re.fullmatch(rf"[0-9a-f]{{{TAG_HEX_DIGITS}}}", suffix)
