"""The label map: one name a line, read bounded, from inside the bundle only."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelstack.errors import ManifestError
from modelstack.processing.labels import MAX_LABEL_BYTES, read_labels


def test_names_by_line_and_trailing_blank_lines_ignored(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("cat\ndog\n\n", encoding="utf-8")
    assert read_labels(tmp_path, "l.txt") == ["cat", "dog"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"cat\n\ndog\n", "line 2 is empty"),
        (b"\xff\xfe", "is not UTF-8"),
        (b"", "must name 1 to"),
        (b"x" * (MAX_LABEL_BYTES + 1), f"is over {MAX_LABEL_BYTES} bytes"),
    ],
    ids=["empty-line", "not-utf8", "empty-file", "oversize"],
)
def test_bad_label_maps_say_why(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "l.txt").write_bytes(content)
    with pytest.raises(ManifestError, match=reason):
        read_labels(tmp_path, "l.txt")


def test_a_label_map_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("cat\n", encoding="utf-8")
    (tmp_path / "bundle").mkdir()
    with pytest.raises(ManifestError, match="leads outside the bundle"):
        read_labels(tmp_path / "bundle", "../outside.txt")
