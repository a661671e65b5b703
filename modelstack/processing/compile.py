"""Compile the declared steps and the model into one processing graph (build time).

The manifest keeps the original model's sha256; the compiled graph's sha256 is returned for the
image labels. Needs the `onnx` package (imported by the build, never by lint).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import onnx
from onnx import compose, version_converter

from modelstack.errors import ModelError
from modelstack.manifest.model import ModelSpec
from modelstack.processing.labels import read_labels
from modelstack.processing.spec import ImageSpec, PostprocessSpec, PreprocessSpec
from modelstack.processing.steps import (
    EXTENSIONS_DOMAIN,
    LABELS,
    OPSET,
    SCORES,
    image_graph,
    postprocess_graph,
    record_graph,
)

__all__ = ["METADATA_KEY", "CompiledGraph", "compile_processing"]

METADATA_KEY: Final = "modelstack.processing"
_PRE_OUT: Final = "pre/processed"


@dataclass(frozen=True)
class CompiledGraph:
    model: onnx.ModelProto
    data: bytes
    sha256: str
    custom_ops: bool


def compile_processing(spec: ModelSpec, model_path: Path, bundle: Path) -> CompiledGraph:
    """The model with `spec.preprocess` in front and `spec.postprocess` behind it."""
    model = onnx.load(str(model_path))
    opset = max(_opset(model, ""), OPSET)
    if _opset(model, "") < OPSET:
        model = version_converter.convert_version(model, OPSET)
    if spec.preprocess is not None:
        model = _prepend(model, spec.preprocess, opset)
    if spec.postprocess is not None:
        labels = read_labels(bundle, spec.postprocess.labels)
        model = _append(model, spec.postprocess, labels, opset)
    model.metadata_props.append(
        onnx.StringStringEntryProto(key=METADATA_KEY, value=json.dumps(_describe(spec)))
    )
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the processing graph is not valid ONNX: {exc}") from None
    data = model.SerializeToString()
    custom = any(o.domain == EXTENSIONS_DOMAIN for o in model.opset_import)
    return CompiledGraph(model, data, hashlib.sha256(data).hexdigest(), custom)


def _describe(spec: ModelSpec) -> dict[str, Any]:
    return {"preprocess": repr(spec.preprocess), "postprocess": repr(spec.postprocess)}


def _opset(model: onnx.ModelProto, domain: str) -> int:
    for entry in model.opset_import:
        if entry.domain in (domain, "ai.onnx" if domain == "" else domain):
            return int(entry.version)
    return 0


def _one(names: list[str], chosen: str | None, what: str) -> str:
    if chosen is not None:
        if chosen not in names:
            raise ModelError(f"model.{what}: the model has no {chosen!r} (it has {names})")
        return chosen
    if what.endswith("model_input") and len(names) != 1:
        raise ModelError(f"model.{what}: the model has inputs {names}; name the one to feed")
    return names[0]


def _elem_type(graph_values: Any, name: str) -> int:
    for value in graph_values:
        if value.name == name:
            return int(value.type.tensor_type.elem_type)
    raise ModelError(f"the model has no tensor {name!r}")


def _shape_width(graph_values: Any, name: str) -> int:
    for value in graph_values:
        if value.name == name:
            dims = value.type.tensor_type.shape.dim
            return int(dims[-1].dim_value) if dims and dims[-1].dim_value > 0 else 0
    return 0


def _align(first: onnx.ModelProto, second: onnx.ModelProto, opset: int) -> None:
    """Give both models the same IR version and opset versions (merge_models needs them)."""
    ir = max(first.ir_version, second.ir_version)
    versions: dict[str, int] = {}
    for model in (first, second):
        for entry in model.opset_import:
            domain = "" if entry.domain == "ai.onnx" else entry.domain
            versions[domain] = max(versions.get(domain, 0), int(entry.version))
    versions[""] = opset
    for model in (first, second):
        model.ir_version = ir
        del model.opset_import[:]
        model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in versions.items())


def _prepend(model: onnx.ModelProto, pre: PreprocessSpec, opset: int) -> onnx.ModelProto:
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in initializers]
    where = "preprocess." + ("image" if isinstance(pre, ImageSpec) else "record")
    target = _one(inputs, pre.model_input, f"{where}.model_input")
    elem = _elem_type(model.graph.input, target)
    front = (
        image_graph(pre, _PRE_OUT, elem)
        if isinstance(pre, ImageSpec)
        else record_graph(pre, _PRE_OUT, elem)
    )
    _align(front, model, opset)
    return compose.merge_models(front, model, io_map=[(_PRE_OUT, target)])


def _append(
    model: onnx.ModelProto, post: PostprocessSpec, labels: list[str], opset: int
) -> onnx.ModelProto:
    outputs = [o.name for o in model.graph.output]
    source = _one(outputs, post.output, "postprocess.output")
    elem = _elem_type(model.graph.output, source)
    columns = _shape_width(model.graph.output, source) or len(labels)
    back = postprocess_graph(post, "post/in", elem, labels, columns)
    _align(model, back, opset)
    return compose.merge_models(model, back, io_map=[(source, "post/in")], outputs=[LABELS, SCORES])
