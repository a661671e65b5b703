"""Smoke-test cases as arrays: inline inputs or an .npz/.json file inside the bundle."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelstack.errors import ModelError, SmokeTestError
from modelstack.manifest.limits import INPUTS_FILE_BYTES
from modelstack.manifest.model import Manifest, SmokeTest, TensorSpec
from modelstack.modelfile import resolve_in_bundle
from modelstack.processing.raw_inputs import file_input
from modelstack.smoke.inputs_file import (
    check_value_count,
    count_values,
    npz_headers,
    parse_json_inputs,
    read_inputs_file,
)
from modelstack.smoke.tensors import to_array

__all__ = ["MAX_INPUTS_FILE_BYTES", "SmokeCase", "load_cases"]

MAX_INPUTS_FILE_BYTES = INPUTS_FILE_BYTES.default
"""The default size limit of an inputs file (MODELSTACK_MAX_INPUTS_FILE_BYTES changes it)."""


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
            if given.file is not None:
                arrays[name] = file_input(
                    manifest.directory, given.file, f"{where}: input {name!r}"
                )
                continue
            datatype = given.datatype or (specs[name].datatype if name in specs else None)
            if datatype is None:
                raise SmokeTestError(f"{where}: the model has no input '{name}'")
            try:
                check_value_count(count_values(given.data))
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
    try:
        raw = read_inputs_file(path)
        if path.suffix == ".npz":
            npz_headers(raw)  # bounds the decompressed size and refuses object arrays first
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        document = parse_json_inputs(raw)
        unknown = sorted(set(document) - set(specs))
        if unknown:
            raise ValueError(
                f"the model has no input {', '.join(map(repr, unknown))} "
                f"(its inputs: {', '.join(specs)})"
            )
        return {name: to_array(value, specs[name].datatype) for name, value in document.items()}
    except (OSError, EOFError, ValueError, TypeError, OverflowError, zipfile.BadZipFile,
            zlib.error) as exc:  # fmt: skip
        raise SmokeTestError(f"{where}: cannot read {relative}: {exc}") from None


def answered_here(cases: list[SmokeCase], model_name: str) -> list[SmokeCase]:
    """The cases this service's own model may answer: all but those whose `expect_model`
    names another (a tier that only the deployed graph reaches)."""
    return [c for c in cases if c.test.expect_model in (None, model_name)]
