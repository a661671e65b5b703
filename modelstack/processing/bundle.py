"""The build-step hook: swap a verified model for its compiled processing graph.

The graph is written once per (model, steps, label map) under `.modelstack/processed/`; the
smoke tests, the packed image model and the runtime then all serve the same graph.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from modelstack.atomic_write import write_atomically
from modelstack.manifest.model import Manifest, TensorSpec
from modelstack.modelfile import ModelSignature, check_model, sha256_file
from modelstack.processing.spec import ImageSpec
from modelstack_runtime.config import RuntimeConfig

__all__ = [
    "EXTENSIONS_REQUIREMENT",
    "PROCESSED_DIR",
    "PROCESSING_LABEL",
    "ProcessedModel",
    "image_additions",
    "processed_model",
    "runtime_processing",
]

PROCESSED_DIR: Final = ".modelstack/processed"
PROCESSING_LABEL: Final = "dev.modelstack.processing.sha256"
EXTENSIONS_REQUIREMENT: Final = "onnxruntime-extensions==0.15.2"


@dataclass(frozen=True)
class ProcessedModel:
    """The compiled graph's path and its signature as clients see it."""

    path: Path
    signature: ModelSignature


def processed_model(manifest: Manifest, model_path: Path) -> ProcessedModel | None:
    """The compiled graph for `manifest`'s steps, or None when it declares none."""
    spec = manifest.model
    if spec.preprocess is None and spec.postprocess is None:
        return None
    from modelstack.processing import compile as compiler
    from modelstack.processing import steps

    folder = manifest.directory / PROCESSED_DIR
    key = hashlib.sha256(repr((spec.sha256, spec.preprocess, spec.postprocess)).encode())
    for module in (compiler, steps):  # a changed compiler never serves a stale graph
        key.update(Path(str(module.__file__)).read_bytes())
    if spec.postprocess is not None:
        labels = manifest.directory / spec.postprocess.labels
        key.update(sha256_file(labels, "label map").encode() if labels.is_file() else b"")
    target = folder / f"{key.hexdigest()[:32]}.onnx"
    if not target.is_file():
        compiled = compiler.compile_processing(spec, model_path, manifest.directory)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(target, compiled.data)
    processing = runtime_processing(manifest)
    assert processing is not None
    return ProcessedModel(target, _raw_signature(check_model(target), processing))


def _raw_signature(signature: ModelSignature, processing: dict[str, Any]) -> ModelSignature:
    images = {i["input"] for i in processing["images"]}
    inputs = tuple(
        TensorSpec(t.name, "BYTES", (1,)) if t.name in images else t for t in signature.inputs
    )
    return ModelSignature(inputs, signature.outputs)


def runtime_processing(manifest: Manifest) -> dict[str, Any] | None:
    """The runtime's `processing` setting: raw image inputs, their limits, custom operators.

    Only `DecodeImage` is a custom operator, so only an image step needs the library.
    """
    spec = manifest.model
    if spec.preprocess is None and spec.postprocess is None:
        return None
    pre = spec.preprocess
    if not isinstance(pre, ImageSpec):
        return {"custom_ops": False, "images": []}
    image = {"input": pre.input, "formats": list(pre.formats), "max_pixels": pre.max_pixels}
    return {"custom_ops": True, "images": [image]}


def image_additions(config: RuntimeConfig) -> tuple[dict[str, str], tuple[str, ...]]:
    """The image labels and pip requirements a processing graph adds to a build.

    The label `dev.modelstack.processing.sha256` is the compiled graph's digest (the manifest
    keeps the original model's); images that decode get the custom-operator library.
    """
    if config.processing is None:
        return {}, ()
    labels = {PROCESSING_LABEL: sha256_file(Path(config.model_path))}
    packages = (EXTENSIONS_REQUIREMENT,) if config.processing.get("custom_ops") else ()
    return labels, packages
