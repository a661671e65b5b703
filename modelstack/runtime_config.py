"""From a manifest to the runtime's own configuration (the contract with the image)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelstack.manifest.model import Manifest
from modelstack.processing.bundle import runtime_processing
from modelstack.smoke.cases import SmokeCase
from modelstack_runtime.codec import encode_json_request
from modelstack_runtime.config import DEFAULT_MAX_CONCURRENCY, RuntimeConfig
from modelstack_runtime.errors import BadRequest

__all__ = ["runtime_config", "warmup_request"]


def warmup_request(cases: list[SmokeCase]) -> dict[str, Any] | None:
    """The first smoke test's inputs as a v2 JSON request, or None without smoke tests."""
    if not cases:
        return None
    try:
        request: dict[str, Any] = json.loads(encode_json_request(cases[0].inputs))
    except BadRequest:  # raw bytes (an encoded image) have no JSON form: warm up synthetically
        return None
    return request


def runtime_config(
    manifest: Manifest,
    model_path: str | Path,
    cases: list[SmokeCase],
    *,
    optimized_model_path: str | None = None,
    concurrency: int | None = None,
    disable_prepacking: bool = False,
    routing: Mapping[str, Any] | None = None,
) -> RuntimeConfig:
    """The runtime settings the manifest asks for, serving the model at `model_path`.

    `disable_prepacking` is the build's measured choice (`image.fast_start`).
    `concurrency` is how many requests the platform sends one instance at once (Cloud Run's
    `concurrency`); the runtime admits that many infer requests and answers 503 past it.
    `routing` is the routed service's `routing` object with its tiers' addresses
    (`modelstack.routing.deploy_graph.routing_object`); None serves the model alone.
    """
    runtime = manifest.runtime
    return RuntimeConfig(
        model_name=manifest.metadata.name,
        model_version=manifest.metadata.version,
        model_path=str(model_path),
        execution_providers=runtime.execution_providers,
        intra_op_threads=runtime.intra_op_threads,
        inter_op_threads=runtime.inter_op_threads,
        graph_optimization=runtime.graph_optimization,
        optimized_model_path=optimized_model_path,
        disable_prepacking=disable_prepacking,
        warmup=runtime.warmup,
        warmup_request=warmup_request(cases) if runtime.warmup else None,
        max_request_bytes=runtime.max_request_bytes,
        max_concurrency=DEFAULT_MAX_CONCURRENCY if concurrency is None else concurrency,
        processing=runtime_processing(manifest),
        routing=None if routing is None else dict(routing),
    )
