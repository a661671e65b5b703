"""Which manifests a lint run checks: given manifests, manifests under folders, and the
manifests that reference a given model, external-data or smoke-input file.

A pre-commit hook passes the files a commit changes. Re-exporting `model.onnx` without
updating the manifest must still be checked (its sha256 no longer matches), so a file that is
not a manifest maps to the nearest manifests up the tree whose `model.path`, the model's
external data, or a smoke test's `inputs_file` is that file. A file nothing references maps to
nothing, quietly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from modelstack.errors import ManifestParseError, ModelError
from modelstack.manifest.source import load_source

__all__ = [
    "HOOK_FILES",
    "MANIFEST_NAMES",
    "MAX_PARENT_LEVELS",
    "discover_manifests",
    "is_manifest_name",
    "manifests_referencing",
]

MANIFEST_NAMES = ("modelstack.yaml", "modelstack.yml")
HOOK_FILES = r"(^|/)modelstack\.ya?ml$|\.(onnx|npz|json|data|bin|pb)$|_data$"
"""The files whose change runs the pre-commit hook: manifests, models, external data and smoke
inputs (`.pre-commit-hooks.yaml` is generated from this)."""
MAX_PARENT_LEVELS = 32
"""How far up from a changed file manifests are looked for (a repository root stops it too)."""
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".modelstack", ".tox"}


def is_manifest_name(path: Path) -> bool:
    """A YAML file is linted as a manifest; anything else may be a file a manifest references."""
    return path.suffix.lower() in (".yaml", ".yml")


def discover_manifests(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Manifests as given, searched for under folders, or referencing the files given.

    Each manifest is listed once, in the order found; a path that does not exist is kept as
    given so that the caller can say so.
    """
    found: dict[Path, None] = {}
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                found.update((Path(root, f), None) for f in sorted(files) if f in MANIFEST_NAMES)
        elif path.is_file() and not is_manifest_name(path):
            found.update((m, None) for m in manifests_referencing(path))
        else:
            found[path] = None
    return list(found)


def manifests_referencing(file: Path) -> list[Path]:
    """The nearest manifests up the tree from `file` that reference it (maybe none)."""
    target = file.resolve()
    for folder in _folders_up(file):
        hits = [
            m
            for name in MANIFEST_NAMES
            if (m := folder / name).is_file() and target in set(_references(m, stop=target))
        ]
        if hits:
            return hits
    return []


def _folders_up(file: Path) -> Iterator[Path]:
    """The folders above `file`, nearest first, shown as relative as `file` was given."""
    absolute = Path(os.path.abspath(file)).parent
    for _ in range(MAX_PARENT_LEVELS):
        yield absolute if file.is_absolute() else Path(os.path.relpath(absolute))
        if (absolute / ".git").exists() or absolute.parent == absolute:
            return
        absolute = absolute.parent


def _references(manifest: Path, *, stop: Path) -> Iterator[Path]:
    """The files `manifest` references, resolved; a manifest that cannot be read might
    reference anything, so it yields `stop` (it is linted, and its error reported)."""
    try:
        data = load_source(manifest).data
    except ManifestParseError:
        yield stop
        return
    if not isinstance(data, dict):
        return
    bundle = manifest.resolve().parent
    model = data.get("model")
    model_path = model.get("path") if isinstance(model, dict) else None
    for test in data.get("smoke_tests") or []:
        if isinstance(test, dict) and isinstance(test.get("inputs_file"), str):
            yield (bundle / test["inputs_file"]).resolve()
    if not isinstance(model_path, str):
        return
    model_file = (bundle / model_path).resolve()
    yield model_file
    if stop != model_file and model_file.is_file() and model_file.suffix == ".onnx":
        yield from _external_data(model_file)


def _external_data(model_file: Path) -> Iterator[Path]:
    from modelstack.modelfile import external_data_locations  # reads the model: only here

    try:
        locations = external_data_locations(model_file)
    except ModelError:
        return
    for _, location in locations:
        yield (model_file.parent / location).resolve()
