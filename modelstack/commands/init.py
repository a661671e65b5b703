"""`modelstack init`: scaffold a manifest from an ONNX model, with a first recorded smoke test."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from modelstack.errors import UsageError
from modelstack.lint import lint_file
from modelstack.manifest.model import TensorSpec
from modelstack.modelfile import check_model, sha256_file
from modelstack.processing.offer import image_offer
from modelstack.providers import PROVIDERS, provider_named
from modelstack.smoke.clients import InProcessClient
from modelstack_runtime.config import RuntimeConfig
from modelstack_runtime.dataplane import load_dataplane
from modelstack_runtime.datatypes import numpy_dtype


def init(
    model: str,
    provider: str = "local",
    output: str | None = None,
    name: str | None = None,
    force: bool = False,
    gpu: bool = False,
    *,
    schema_ref: str = "url",
) -> int:
    """Write a manifest next to the model; exit 0 when it lints clean.

    `schema_ref` picks the editor's `$schema`: "url" (the schema published for this version)
    or "local" (a relative path to a copy in the repository, written when there is none).
    """
    if gpu and not provider_named(provider).supports_gpu():
        gpu_providers = [p.name for p in PROVIDERS.values() if p.supports_gpu()]
        raise UsageError(
            f"--gpu needs --provider {' or '.join(gpu_providers)} (the providers with GPU targets)"
        )
    model_path = Path(model).resolve()
    if not model_path.is_file():
        raise UsageError(f"no such model file: {model}")
    target_path = Path(output) if output else model_path.parent / "modelstack.yaml"
    if target_path.exists() and not force:
        raise UsageError(f"{target_path} exists; pass --force to overwrite it")
    relative = os.path.relpath(model_path, target_path.resolve().parent)
    if relative.startswith(".."):
        raise UsageError("the manifest must be in the model's folder or above it")
    signature = check_model(model_path)
    service = name or _dns_label(model_path.stem)
    inputs = _example_inputs(signature.inputs)
    outputs = _record(model_path, service, inputs)
    text = _schema_comment(schema_ref, target_path.resolve().parent)
    text += _manifest_text(service, relative, sha256_file(model_path), signature, provider, gpu)
    text += _smoke_test_text(inputs, outputs)
    target_path.write_text(text, encoding="utf-8")
    problems = [d for d in lint_file(target_path) if d.severity == "error"]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"wrote {target_path} (signature from the model, 1 recorded smoke test)")
    print(f"next: modelstack lint {target_path} && modelstack test {target_path}")
    return 1 if problems else 0


def _dns_label(stem: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")[:40].strip("-")
    return label if label and label[0].isalpha() else f"model-{label}"[:40].strip("-")


def _example_inputs(specs: tuple[TensorSpec, ...]) -> dict[str, np.ndarray]:
    """Deterministic example inputs: dynamic dimensions become 1, values are small and tidy."""
    rng = np.random.default_rng(0)
    inputs = {}
    for spec in specs:
        shape = tuple(1 if d == -1 else d for d in spec.shape)
        if spec.datatype == "BYTES":
            inputs[spec.name] = np.full(shape, b"example", dtype=object)
        elif spec.datatype == "BOOL":
            inputs[spec.name] = rng.integers(0, 2, shape).astype(bool)
        elif spec.datatype.startswith(("INT", "UINT")):
            inputs[spec.name] = rng.integers(0, 10, shape).astype(numpy_dtype(spec.datatype))
        else:
            values = np.round(rng.uniform(0, 1, shape), 3)
            inputs[spec.name] = values.astype(numpy_dtype(spec.datatype))
    return inputs


def _record(model_path: Path, service: str, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    config = RuntimeConfig(model_name=service, model_version="0", model_path=str(model_path))
    client = InProcessClient(load_dataplane(config), service)
    return client.infer(inputs)


def _flow(array: np.ndarray) -> str:
    if array.dtype.kind == "f":
        data = np.vectorize(lambda v: float(f"{v:.6g}"), otypes=[object])(array).tolist()
    elif array.dtype.kind in "SO":
        data = [v.decode() if isinstance(v, bytes) else str(v) for v in array.flat]
        data = np.array(data, dtype=object).reshape(array.shape).tolist()
    else:
        data = array.tolist()
    return json.dumps(data)


def _tensors_text(kind: str, specs: tuple[TensorSpec, ...]) -> str:
    lines = [f"    {kind}:"]
    for spec in specs:
        lines += [
            f"      - name: {json.dumps(spec.name)}",
            f"        datatype: {spec.datatype}",
            f"        shape: {json.dumps(list(spec.shape))}",
        ]
    return "\n".join(lines) + "\n"


def _manifest_text(
    service: str, relative: str, sha256: str, signature: Any, provider: str, gpu: bool
) -> str:
    return (
        "apiVersion: modelstack.dev/v1\nkind: ModelService\n"
        f"metadata:\n  name: {service}\n  version: 0.1.0\n"
        f"model:\n  path: {json.dumps(relative)}\n  sha256: {sha256}\n  signature:\n"
        + _tensors_text("inputs", signature.inputs)
        + _tensors_text("outputs", signature.outputs)
        + image_offer(signature)
        + "targets:\n"
        + provider_named(provider).init_snippet(gpu=gpu)
        + "rollout:\n  strategy: all-at-once\n"
    )


def _schema_comment(schema_ref: str, folder: Path) -> str:
    """The first line that tells the YAML language server which schema to use."""
    from modelstack.commands.schema import schema_url, write_schema

    if schema_ref == "url":
        return f"# yaml-language-server: $schema={schema_url()}\n"
    copy = _local_schema(folder)
    if copy is None:
        copy = write_schema(folder)
        print(f"wrote {copy} (the schema, for editors that work offline)")
    return f"# yaml-language-server: $schema={Path(os.path.relpath(copy, folder)).as_posix()}\n"


def _local_schema(folder: Path) -> Path | None:
    """The nearest copy of the schema up the tree (in a folder or its schemas/), if any."""
    from modelstack.lint.discovery import MAX_PARENT_LEVELS
    from modelstack.resources import SCHEMA_FILE

    for _ in range(MAX_PARENT_LEVELS):
        for candidate in (folder / SCHEMA_FILE, folder / "schemas" / SCHEMA_FILE):
            if candidate.is_file():
                return candidate
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent
    return None


def _smoke_test_text(inputs: dict[str, np.ndarray], outputs: dict[str, Any]) -> str:
    lines = [
        "smoke_tests:",
        "  # Recorded by `modelstack init` from a real run on generated inputs.",
        "  # Replace with real examples and the answers you expect.",
        "  - name: recorded",
        "    inputs:",
    ]
    for name, array in inputs.items():
        lines += [f"      {json.dumps(name)}:", f"        data: {_flow(array)}"]
    lines.append("    expected_outputs:")
    for name, array in outputs.items():
        tolerance = ", atol: 0.0001, rtol: 0.001" if np.asarray(array).dtype.kind == "f" else ""
        lines.append(f"      {json.dumps(name)}: {{data: {_flow(np.asarray(array))}{tolerance}}}")
    return "\n".join(lines) + "\n"
