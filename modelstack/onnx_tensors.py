"""Every tensor an ONNX model holds, wherever it sits.

Weights are not only top-level initializers: Constant nodes carry tensors in attributes,
sparse initializers hold two tensors each, and control-flow nodes (If, Loop, Scan) and model
functions hold whole subgraphs with their own initializers and nodes. Each of them may point
at an external data file, so checks that guard external data walk all of them through
`iter_tensors`. The walk is iterative: a hostile model cannot exhaust the Python stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["iter_tensors"]

# onnx.AttributeProto.AttributeType values (kept here so the walk needs no onnx import).
_TENSOR, _GRAPH, _SPARSE_TENSOR = 4, 5, 11


def iter_tensors(model: Any) -> Iterator[tuple[str, Any]]:
    """(where, TensorProto) for every tensor in `model`: a ModelProto, a GraphProto or a
    FunctionProto. `where` names the tensor for an error message."""
    graphs: list[tuple[str, Any]] = []
    nodes: list[tuple[str, Any]] = []
    if hasattr(model, "graph"):
        graphs.append(("", model.graph))
        for function in model.functions:
            nodes.extend((f"function '{function.name}': ", n) for n in function.node)
        for info in getattr(model, "training_info", ()):
            graphs.extend(("training ", g) for g in (info.initialization, info.algorithm))
    elif hasattr(model, "initializer"):
        graphs.append(("", model))
    else:
        nodes.extend(("", n) for n in model.node)
    while graphs or nodes:
        if graphs:
            prefix, graph = graphs.pop()
            for tensor in graph.initializer:
                yield f"{prefix}tensor '{tensor.name}'", tensor
            for sparse in graph.sparse_initializer:
                yield from _sparse(f"{prefix}sparse initializer", sparse)
            nodes.extend((prefix, n) for n in graph.node)
            continue
        prefix, node = nodes.pop()
        label = f"{prefix}node '{node.name or node.op_type}'"
        for attribute in node.attribute:
            where = f"{label} attribute '{attribute.name}'"
            if attribute.type == _TENSOR or attribute.HasField("t"):
                yield where, attribute.t
            for tensor in attribute.tensors:
                yield where, tensor
            if attribute.type == _SPARSE_TENSOR or attribute.HasField("sparse_tensor"):
                yield from _sparse(where, attribute.sparse_tensor)
            for sparse in attribute.sparse_tensors:
                yield from _sparse(where, sparse)
            if attribute.type == _GRAPH or attribute.HasField("g"):
                graphs.append((f"{where} subgraph: ", attribute.g))
            graphs.extend((f"{where} subgraph: ", g) for g in attribute.graphs)


def _sparse(where: str, sparse: Any) -> Iterator[tuple[str, Any]]:
    name = sparse.values.name or "?"
    yield f"{where} '{name}' values", sparse.values
    yield f"{where} '{name}' indices", sparse.indices
