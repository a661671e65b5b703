"""What a lint rule is, and what it sees.

A rule is a small class: an id (area and severity are in the number, see `rules/__init__.py`),
a one-line summary, a longer description for the README, and one `check()` that yields
`Finding`s. A finding names a manifest path; the framework turns the path into a position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from modelstack.errors import ModelError
from modelstack.lint.diagnostic import Severity
from modelstack.manifest.model import Manifest
from modelstack.manifest.source import PathKey, Source
from modelstack.manifest.validator import SchemaIssue
from modelstack.modelfile import ModelSignature
from modelstack.processing.served import served_signature

__all__ = ["Finding", "LintContext", "Rule"]


@dataclass(frozen=True)
class Finding:
    """A problem at a path in the manifest; `at_key` points at the key instead of its value."""

    path: PathKey
    message: str
    at_key: bool = False


@dataclass
class LintContext:
    """Everything a rule may look at. Model facts are computed lazily, once per manifest."""

    source: Source
    manifest: Manifest | None
    """The typed manifest, or None when the document broke the schema."""
    schema_issues: list[SchemaIssue] = field(default_factory=list)
    model_checks: bool = True
    _model_error: ModelError | None = field(default=None, init=False)

    @cached_property
    def model_path(self) -> Path | None:
        """The model file inside the bundle, or None when it is missing or escapes."""
        from modelstack.modelfile import resolve_in_bundle

        if self.manifest is None:
            return None
        try:
            return resolve_in_bundle(self.manifest.directory, self.manifest.model.path)
        except ModelError as exc:
            self._model_error = exc
            return None

    @cached_property
    def model_signature(self) -> ModelSignature | None:
        """The signature read from the model file (None if unreadable or checks are off)."""
        from modelstack.modelfile import check_model

        if not self.model_checks or self.model_path is None:
            return None
        try:
            return check_model(self.model_path)
        except ModelError as exc:
            self._model_error = exc
            return None

    @property
    def model_error(self) -> ModelError | None:
        """Why the model could not be resolved or read, once a rule asked for it."""
        return self._model_error

    @property
    def signature(self) -> ModelSignature | None:
        """The best known signature as clients see it: the model's own, else the one the
        manifest declares, with the raw inputs and outputs of its pre/post-processing."""
        model = self.manifest.model if self.manifest else None
        signature = self.model_signature
        if signature is None and model and model.inputs is not None and model.outputs is not None:
            signature = ModelSignature(model.inputs, model.outputs)
        if signature is None or model is None:
            return signature
        return served_signature(model, signature)


class Rule:
    """Base class of every lint rule."""

    id: ClassVar[str]
    severity: ClassVar[Severity] = "error"
    summary: ClassVar[str]
    description: ClassVar[str]
    needs_model: ClassVar[bool] = False
    """True when the rule reads the model file (skipped with --no-model-checks)."""

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        raise NotImplementedError
