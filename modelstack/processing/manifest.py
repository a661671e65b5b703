"""The hook from the typed manifest: parse `model.preprocess/postprocess` with positions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelstack.errors import ManifestError
from modelstack.manifest.source import Source
from modelstack.processing.spec import (
    PostprocessSpec,
    PreprocessSpec,
    ProcessingSpecError,
    postprocess_from_dict,
    preprocess_from_dict,
)

__all__ = ["processing_from_model"]


def processing_from_model(
    source: Source, model: Mapping[str, Any]
) -> tuple[PreprocessSpec | None, PostprocessSpec | None]:
    """The steps of a schema-valid `model:` mapping; errors name their file, line and column."""
    try:
        pre = preprocess_from_dict(model["preprocess"]) if "preprocess" in model else None
        post = postprocess_from_dict(model["postprocess"]) if "postprocess" in model else None
    except ProcessingSpecError as exc:
        raise ManifestError(f"{_where(source, exc)}: {exc}") from None
    return pre, post


def _where(source: Source, exc: ProcessingSpecError) -> str:
    try:
        return str(source.position(exc.path))
    except (KeyError, IndexError):
        return source.file
