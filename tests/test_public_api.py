"""The public API is deliberate: a change to it must change this file too."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelstack
import modelstack.lint
import modelstack.manifest
from modelstack.errors import ModelstackError

PUBLIC = {
    modelstack: [
        "InfrastructureError",
        "Manifest",
        "ManifestError",
        "ManifestParseError",
        "ModelError",
        "ModelstackError",
        "SmokeTestError",
        "UsageError",
        "__version__",
        "load_manifest",
    ],
    modelstack.lint: [
        "ALL_RULES",
        "RULES_BY_ID",
        "Diagnostic",
        "LintOptions",
        "Severity",
        "discover_manifests",
        "lint_file",
        "lint_paths",
    ],
    modelstack.manifest: [
        "Manifest",
        "SchemaIssue",
        "Source",
        "load_manifest",
        "manifest_from_source",
        "parse_source",
        "schema_issues",
    ],
}


@pytest.mark.parametrize("module", list(PUBLIC), ids=lambda m: m.__name__)
def test_all_is_pinned(module: object) -> None:
    assert module.__all__ == PUBLIC[module]  # type: ignore[attr-defined]


@pytest.mark.parametrize("module", list(PUBLIC), ids=lambda m: m.__name__)
def test_every_exported_name_exists(module: object) -> None:
    for name in PUBLIC[module]:  # type: ignore[index]
        assert getattr(module, name, None) is not None, name


def test_exported_errors_share_one_root() -> None:
    errors = [getattr(modelstack, n) for n in modelstack.__all__ if n.endswith("Error")]
    assert len(errors) == 7
    assert all(issubclass(e, ModelstackError) for e in errors)


def test_version_and_typing_marker() -> None:
    assert modelstack.__version__.count(".") == 2
    assert (Path(modelstack.__file__).parent / "py.typed").is_file()
