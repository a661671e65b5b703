"""A minimal textual edit of the manifest: new `model.path` and `model.sha256` values.

The loader recorded where each scalar sits; the edit replaces exactly those characters (keeping
a quoted scalar's quotes), leaves every comment and the layout as they were, and is checked by
parsing the result: the two values must read back as intended and nothing else may change.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from modelstack.errors import EvaluationError
from modelstack.manifest.source import PathKey, Source, parse_source

__all__ = ["edit_model_fields", "write_manifest_text"]

_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What YAML counts as a line break (the loader's line numbers follow these)."""
_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _BREAKS.finditer(text))]


def _scalar_range(source: Source, starts: list[int], path: PathKey) -> tuple[int, int]:
    span = source.values[path]
    return starts[span.line] + span.column, starts[span.end_line] + span.end_column


def _render(old: str, value: str) -> str:
    if not _PLAIN.match(value):
        raise EvaluationError(f"'{value}' cannot be written as a plain YAML scalar")
    quote = old[0] if old[:1] in ("'", '"') else ""
    return f"{quote}{value}{quote}"


def edit_model_fields(text: str, file: str, *, path: str, sha256: str) -> str:
    """`text` with model.path and model.sha256 replaced; EvaluationError if that cannot be
    done as a minimal edit (the manifest is then left for a person to change)."""
    source = parse_source(text, file)
    starts = _line_starts(text)
    edits = []
    for key, value in ((("model", "path"), path), (("model", "sha256"), sha256)):
        begin, end = _scalar_range(source, starts, key)
        old = text[begin:end]
        current = source.data["model"][key[1]]
        if old.strip("'\"") != current:
            raise EvaluationError(
                f"{source.position(key)}: model.{key[1]} is not written as a one-line scalar; "
                f"set it to {value} by hand"
            )
        edits.append((begin, end, _render(old, value)))
    result = text
    for begin, end, new in sorted(edits, reverse=True):
        result = result[:begin] + new + result[end:]
    _check(source, parse_source(result, file), path=path, sha256=sha256)
    return result


def _check(before: Source, after: Source, *, path: str, sha256: str) -> None:
    expected = {**before.data, "model": {**before.data["model"], "path": path, "sha256": sha256}}
    if after.data != expected:
        raise EvaluationError(
            f"{before.file}: editing model.path and model.sha256 would change more than those "
            "two values; edit the manifest by hand"
        )


def write_manifest_text(path: Path, text: str) -> None:
    """Replace the file atomically (a crash leaves the old or the new manifest, never half)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
