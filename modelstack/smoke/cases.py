"""Smoke-test cases as arrays: inline inputs or an .npz/.json file inside the bundle."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelstack.errors import ModelError, SmokeTestError
from modelstack.manifest.model import Manifest, SmokeTest, TensorSpec
from modelstack.modelfile import resolve_in_bundle
from modelstack.smoke.tensors import to_array

__all__ = ["MAX_INPUTS_FILE_BYTES", "SmokeCase", "load_cases"]

MAX_INPUTS_FILE_BYTES = 64 * 1024 * 1024
"""Inputs files larger than this are refused (smoke tests are small by nature)."""


@dataclass(frozen=True)
class SmokeCase:
    """One smoke test with its inputs decoded to arrays."""

    test: SmokeTest
    inputs: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return self.test.name


def load_cases(manifest: Manifest, inputs: tuple[TensorSpec, ...]) -> list[SmokeCase]:
    """Every smoke test of `manifest`, with datatypes taken from the model's `inputs`."""
    specs = {spec.name: spec for spec in inputs}
    return [SmokeCase(test, _inputs(manifest, test, specs)) for test in manifest.smoke_tests]


def _inputs(
    manifest: Manifest, test: SmokeTest, specs: dict[str, TensorSpec]
) -> dict[str, np.ndarray]:
    where = f"{manifest.source.position(test.path)}: smoke test '{test.name}'"
    if test.inputs is not None:
        arrays = {}
        for name, given in test.inputs.items():
            datatype = given.datatype or (specs[name].datatype if name in specs else None)
            if datatype is None:
                raise SmokeTestError(f"{where}: the model has no input '{name}'")
            try:
                arrays[name] = to_array(given.data, datatype, given.shape)
            except (ValueError, TypeError, OverflowError) as exc:
                raise SmokeTestError(f"{where}: input '{name}': {exc}") from None
        return arrays
    assert test.inputs_file is not None
    return _read_file(manifest.directory, test.inputs_file, specs, where)


def _read_file(
    bundle: Path, relative: str, specs: dict[str, TensorSpec], where: str
) -> dict[str, np.ndarray]:
    try:
        path = resolve_in_bundle(bundle, relative, what="inputs file")
    except ModelError as exc:
        raise SmokeTestError(f"{where}: {exc}") from None
    if path.stat().st_size > MAX_INPUTS_FILE_BYTES:
        raise SmokeTestError(
            f"{where}: {relative} is larger than {MAX_INPUTS_FILE_BYTES // 2**20} MiB"
        )
    try:
        if path.suffix == ".npz":
            # np.load on a path leaks the file when the zip is corrupt; own the handle here.
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("a JSON inputs file must map input names to nested lists")
        unknown = sorted(set(raw) - set(specs))
        if unknown:
            raise ValueError(
                f"the model has no input {', '.join(map(repr, unknown))} "
                f"(its inputs: {', '.join(specs)})"
            )
        return {name: to_array(value, specs[name].datatype) for name, value in raw.items()}
    except (OSError, EOFError, ValueError, TypeError, OverflowError, zipfile.BadZipFile) as exc:
        raise SmokeTestError(f"{where}: cannot read {relative}: {exc}") from None
