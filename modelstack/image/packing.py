"""The model in the layout that starts fastest: a small graph and one aligned weights file.

onnxruntime maps a model's external data file into memory instead of parsing weights out of
the protobuf, so a model whose weights sit in one external file, each tensor at an offset a
page mapping can start at, creates its session several times faster than the same model
inline. `pack_model` writes that layout from the model the user ships (inline, or with its
own external data files inside the bundle): the graph (`<stem>.onnx`, weights replaced by
references) and `<stem>.weights`. Tensors are streamed from file to file in chunks, so a
model over protobuf's 2 GiB ceiling never has its weights in memory at once.

The manifest's sha256 still names the shipped model; the packed form has its own digest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from modelstack.errors import ExternalDataError, ModelError
from modelstack.modelfile import load_model_proto, resolve_in_bundle
from modelstack.onnx_tensors import iter_tensors

__all__ = [
    "ALIGNMENT",
    "GRAPH_SUFFIX",
    "MIN_EXTERNAL_BYTES",
    "PACK_FORMAT",
    "WEIGHTS_SUFFIX",
    "PackedModel",
    "move_packed",
    "pack_model",
    "packed_digest",
]

PACK_FORMAT: Final = "modelstack-pack-v1"
"""Changes whenever the layout written here changes (it is part of the cache key)."""
ALIGNMENT: Final = 64 * 1024
"""Offset alignment of large tensors: the allocation granularity onnxruntime maps at."""
SMALL_ALIGNMENT: Final = 64
"""Offset alignment of tensors under `LARGE_TENSOR_BYTES` (SIMD loads, little padding)."""
LARGE_TENSOR_BYTES: Final = 1024 * 1024
MIN_EXTERNAL_BYTES: Final = 1024
"""Tensors smaller than this stay in the graph (shapes, axes, biases of tiny models)."""
GRAPH_SUFFIX: Final = ".onnx"
WEIGHTS_SUFFIX: Final = ".weights"
_EXTERNAL: Final = 1  # TensorProto.EXTERNAL
_STRING: Final = 8  # TensorProto.STRING: no raw byte form, stays in the graph
_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class PackedModel:
    """The packed files of one model and what packing did."""

    graph: Path
    weights: Path | None
    """None when no tensor was large enough to move out of the graph."""
    digest: str
    """sha256 over the packed files (see `packed_digest`)."""
    external_tensors: int
    weights_bytes: int

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.graph,) if self.weights is None else (self.graph, self.weights)


def pack_model(source: Path, out_dir: Path, stem: str) -> PackedModel:
    """Write `source` as `out_dir/<stem>.onnx` + `out_dir/<stem>.weights`.

    `source` has been verified (sha256, containment of its external data, onnx.checker).
    """
    import onnx  # heavy: only when a model is packed

    proto = load_model_proto(source)
    graph_path = out_dir / f"{stem}{GRAPH_SUFFIX}"
    weights_name = f"{stem}{WEIGHTS_SUFFIX}"
    weights_path = out_dir / weights_name
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    with weights_path.open("wb") as out:
        for tensor in _movable(proto):
            offset = _pad(out, _alignment(_tensor_bytes(tensor)))
            length = _write_tensor(tensor, source.parent, out)
            _point_at(tensor, weights_name, offset, length)
            count += 1
        size = out.tell()
    if count == 0:
        weights_path.unlink()
    try:
        onnx.save_model(proto, str(graph_path))
    except ValueError as exc:  # the graph alone over 2 GiB: large non-tensor attributes
        raise ModelError(f"'{source.name}': the packed graph cannot be written: {exc}") from None
    weights = weights_path if count else None
    return PackedModel(
        graph_path, weights, packed_digest(graph_path, weights), count, size if count else 0
    )


def packed_digest(graph: Path, weights: Path | None) -> str:
    """sha256 over the packed graph and weights files (name, length, bytes of each)."""
    digest = hashlib.sha256(f"{PACK_FORMAT}\0".encode())
    for path in (graph, weights):
        if path is None:
            continue
        digest.update(path.name.encode() + b"\0" + path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


def move_packed(packed: PackedModel, destination: Path) -> PackedModel:
    """Move freshly packed files into `destination` atomically (a cache folder)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".pack-"))
    try:
        for path in packed.files:
            shutil.move(str(path), tmp / path.name)
        os.replace(tmp, destination)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not destination.is_dir():
            raise
    weights = destination / packed.weights.name if packed.weights else None
    return PackedModel(
        destination / packed.graph.name,
        weights,
        packed.digest,
        packed.external_tensors,
        packed.weights_bytes,
    )


def _movable(proto: Any) -> list[Any]:
    """Tensors to place in the weights file: every external one, large initializers.

    Largest first: tensors whose sizes are multiples of the alignment then follow each other
    without padding, so the weights file is no larger than the weights.
    """
    chosen: list[Any] = []
    seen: set[int] = set()
    for _where, tensor in iter_tensors(proto):
        if tensor.data_location == _EXTERNAL or len(tensor.external_data):
            seen.add(id(tensor))
            chosen.append(tensor)
    for tensor in proto.graph.initializer:
        if id(tensor) in seen or tensor.data_type == _STRING:
            continue
        if _tensor_bytes(tensor) >= MIN_EXTERNAL_BYTES:
            chosen.append(tensor)
    order = sorted(range(len(chosen)), key=lambda i: (-_tensor_bytes(chosen[i]), i))
    return [chosen[i] for i in order]


def _tensor_bytes(tensor: Any) -> int:
    if tensor.data_location == _EXTERNAL or len(tensor.external_data):
        length = _external(tensor).get("length")
        return int(length) if length is not None else LARGE_TENSOR_BYTES
    if tensor.HasField("raw_data"):
        return len(tensor.raw_data)
    return int(tensor.ByteSize())


def _alignment(size: int) -> int:
    return ALIGNMENT if size >= LARGE_TENSOR_BYTES else SMALL_ALIGNMENT


def _pad(out: BinaryIO, alignment: int) -> int:
    position = out.tell()
    padding = -position % alignment
    if padding:
        out.write(b"\0" * padding)
    return position + padding


def _external(tensor: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _write_tensor(tensor: Any, model_dir: Path, out: BinaryIO) -> int:
    """Append the tensor's bytes to `out`; returns how many were written."""
    if tensor.data_location == _EXTERNAL or len(tensor.external_data):
        return _copy_external(tensor, model_dir, out)
    if tensor.HasField("raw_data"):
        data = tensor.raw_data
    else:
        from onnx import numpy_helper

        array = numpy_helper.to_array(tensor)
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
    out.write(data)
    return len(data)


def _copy_external(tensor: Any, model_dir: Path, out: BinaryIO) -> int:
    info = _external(tensor)
    where = f"tensor '{tensor.name}'"
    source = resolve_in_bundle(model_dir, info.get("location", ""), what="external data")
    offset = int(info.get("offset", 0))
    size = source.stat().st_size
    length = int(info["length"]) if "length" in info else size - offset
    if offset < 0 or length < 0 or offset + length > size:
        raise ExternalDataError(
            f"{where}: its external data ({info.get('location')}, offset {offset}, length "
            f"{length}) runs past the end of the file ({size} bytes)"
        )
    with source.open("rb") as handle:
        handle.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                raise ExternalDataError(f"{where}: {source.name} ended early")
            out.write(chunk)
            remaining -= len(chunk)
    return length


def _point_at(tensor: Any, location: str, offset: int, length: int) -> None:
    """Make `tensor` a reference to `location` at `offset` and drop its inline bytes."""
    for field in (
        "raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data",
    ):  # fmt: skip
        tensor.ClearField(field)
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, str(value)
    tensor.data_location = _EXTERNAL
