"""The ONNX model artifact: where it is, what it hashes to, and what its signature is.

A manifest is untrusted: the model path must stay inside the manifest's directory (no `..`, no
absolute path, no symlink pointing out), and so must any external-data file the model names.
`onnx` is imported only by the functions that parse a model, never at module import.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from modelstack.errors import ExternalDataError, ModelError, UnsafeFileError
from modelstack.manifest.files import open_regular, regular_file_problem
from modelstack.manifest.limits import MODEL_BYTES
from modelstack.manifest.model import TensorSpec
from modelstack.onnx_tensors import iter_tensors

__all__ = [
    "ModelSignature",
    "check_model",
    "external_data_locations",
    "load_model_proto",
    "resolve_in_bundle",
    "sha256_file",
    "verify_model",
]

# ONNX TensorProto element types -> Open Inference Protocol datatypes.
_ONNX_TO_V2 = {
    1: "FP32", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
    8: "BYTES", 9: "BOOL", 10: "FP16", 11: "FP64", 12: "UINT32", 13: "UINT64",
}  # fmt: skip
_EXTERNAL = 1  # TensorProto.EXTERNAL


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec | None:
        return next((t for t in self.inputs if t.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((t for t in self.outputs if t.name == name), None)


def resolve_in_bundle(bundle: Path, relative: str, what: str = "model") -> Path:
    """The real path of `relative` inside `bundle`, a regular file; ModelError otherwise."""
    if "\x00" in relative:
        raise ModelError(
            f"the {what} path {relative!r} contains a NUL byte; no file name can hold one"
        )
    if os.path.isabs(relative) or relative.startswith("~"):
        raise ModelError(f"the {what} path '{relative}' must be relative to the manifest's folder")
    root = bundle.resolve()
    candidate = root / relative
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        via = " through a symlink" if ".." not in Path(relative).parts else ""
        raise ModelError(
            f"the {what} path '{relative}' leads outside the manifest's folder{via} "
            f"({resolved}); keep the {what} inside {root}"
        )
    if not resolved.exists():
        raise ModelError(f"the {what} file '{relative}' does not exist in {root}")
    problem = regular_file_problem(resolved)
    if problem:
        raise ModelError(f"the {what} path '{relative}' cannot be used: {problem}")
    return resolved


def sha256_file(path: Path, what: str = "model") -> str:
    """The hex sha256 of a regular file within MODELSTACK_MAX_MODEL_BYTES, read in chunks."""
    digest = hashlib.sha256()
    with _open_model(path, what) as (handle, size):
        remaining = size  # never read past the size that was checked, even if the file grows
        while remaining > 0:
            chunk = handle.read(min(1 << 20, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _open_model(path: Path, what: str) -> Iterator[tuple[BinaryIO, int]]:
    try:
        with open_regular(path, MODEL_BYTES) as opened:
            yield opened
    except UnsafeFileError as exc:
        raise ModelError(f"the {what} file '{path.name}': {exc.reason}") from None


def _load(path: Path) -> Any:
    import onnx  # heavy: only when a model is actually read

    with _open_model(path, "model") as (handle, size):
        data = handle.read(size)
    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:
        raise ModelError(
            f"'{path.name}' is not a readable ONNX model ({type(exc).__name__}: {exc}). "
            "Is the file truncated, or not an ONNX model at all?"
        ) from None


def load_model_proto(path: Path) -> Any:
    """The ModelProto of `path` (read within MODELSTACK_MAX_MODEL_BYTES), external data not
    loaded; ModelError when it is not an ONNX model."""
    return _load(path)


def check_model(path: Path) -> ModelSignature:
    """Load the model, check that every external data file stays in the bundle, run
    `onnx.checker`."""
    import onnx

    proto = _load(path)
    _check_external_data(proto, path.parent)
    try:
        onnx.checker.check_model(str(path), full_check=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"'{path.name}' fails onnx.checker: {first}") from None
    return _signature(proto)


def external_data_locations(path: Path) -> list[tuple[str, str]]:
    """(where the tensor is, location relative to the model's folder) of each external tensor."""
    return _external_data(_load(path))


def _external_data(proto: Any) -> list[tuple[str, str]]:
    """(where, location) of every tensor anywhere in the model that keeps its data outside it."""
    return [
        (where, next((e.value for e in tensor.external_data if e.key == "location"), ""))
        for where, tensor in iter_tensors(proto)
        if tensor.data_location == _EXTERNAL or len(tensor.external_data)
    ]


def _check_external_data(proto: Any, bundle: Path) -> None:
    for where, location in _external_data(proto):
        if not location:
            raise ExternalDataError(f"{where}: its external data names no file ('location')")
        try:
            resolve_in_bundle(bundle, location, what="external data")
        except ModelError as exc:
            raise ExternalDataError(f"{where}: {exc}") from None


def _signature(proto: Any) -> ModelSignature:
    initializers = {t.name for t in proto.graph.initializer}
    inputs = tuple(_tensor(v) for v in proto.graph.input if v.name not in initializers)
    outputs = tuple(_tensor(v) for v in proto.graph.output)
    return ModelSignature(inputs, outputs)


def _tensor(value: Any) -> TensorSpec:
    tensor_type = value.type.tensor_type
    datatype = _ONNX_TO_V2.get(tensor_type.elem_type, f"ONNX_TYPE_{tensor_type.elem_type}")
    shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)
    return TensorSpec(value.name, datatype, shape)


def verify_model(bundle: Path, relative: str, sha256: str) -> tuple[Path, ModelSignature]:
    """The model's path and signature, after checking containment, sha256 and onnx.checker.

    Every command that runs or ships a model goes through here, so a model that does not match
    its pinned digest is never served, built or deployed.
    """
    path = resolve_in_bundle(bundle, relative)
    actual = sha256_file(path)
    if actual != sha256:
        raise ModelError(
            f"sha256 mismatch for '{relative}': the manifest pins {sha256}, the file is "
            f"{actual}. If the new model is intended, set model.sha256 to the file's digest."
        )
    return path, check_model(path)
