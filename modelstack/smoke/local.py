"""Smoke tests on onnxruntime in this process: what `modelstack test` and `serve` start from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelstack.errors import ModelError
from modelstack.manifest.model import Manifest
from modelstack.modelfile import ModelSignature, resolve_in_bundle, verify_model
from modelstack.processing.bundle import processed_model
from modelstack.runtime_config import runtime_config
from modelstack.smoke.cases import SmokeCase, load_cases
from modelstack_runtime.config import RuntimeConfig

__all__ = ["LocalBundle", "prepare_local"]


@dataclass(frozen=True)
class LocalBundle:
    """A verified model with its smoke cases and the runtime config that serves it."""

    signature: ModelSignature
    cases: list[SmokeCase]
    config: RuntimeConfig


def prepare_local(manifest: Manifest, *, routing: Mapping[str, Any] | None = None) -> LocalBundle:
    """Verify the model (containment, sha256, onnx.checker) and decode the smoke cases.

    `routing` (the runtime's `routing` object) makes the config route to the deployed tiers.
    """
    try:
        resolve_in_bundle(manifest.directory, manifest.model.path)
    except ModelError as exc:  # say where the path came from
        raise ModelError(f"{manifest.source.position(('model', 'path'))}: {exc}") from None
    path, signature = verify_model(manifest.directory, manifest.model.path, manifest.model.sha256)
    processed = processed_model(manifest, path)
    if processed is not None:  # serve the compiled pre/post-processing graph instead
        path, signature = processed.path, processed.signature
    cases = load_cases(manifest, signature.inputs)
    return LocalBundle(signature, cases, runtime_config(manifest, path, cases, routing=routing))
