"""The model file: containment of every external data reference, and bounded, regular reads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import GraphProto, ModelProto, NodeProto, TensorProto, helper

from modelstack.errors import ExternalDataError, ModelError
from modelstack.lint import lint_file
from modelstack.modelfile import check_model, resolve_in_bundle, sha256_file, verify_model
from modelstack.onnx_tensors import iter_tensors

WriteBundle = Callable[..., Path]


def external(name: str, location: str = "weights.bin") -> TensorProto:
    """A [1, 4] float tensor whose 16 bytes live in the external file `location`."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[1, 4])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def model_of(graph: GraphProto, **extra: Any) -> ModelProto:
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8, **extra
    )


def constant_graph(tensor: TensorProto, name: str = "g") -> GraphProto:
    y = helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Constant", [], [f"{name}_y"], name=f"{name}_const", value=tensor)
    return helper.make_graph([node], name, [], [y])


def if_model(branch: GraphProto) -> ModelProto:
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    other = constant_graph(helper.make_tensor("zeros", TensorProto.FLOAT, [1, 4], [0.0] * 4), "e")
    node = helper.make_node(
        "If", ["cond"], ["y"], name="branch", then_branch=branch, else_branch=other
    )
    return model_of(helper.make_graph([node], "if", [cond], [y]))


def placements() -> dict[str, ModelProto]:
    """A model per place where a tensor can hide, each referencing weights.bin."""
    sparse = helper.make_sparse_tensor(
        external("values"), helper.make_tensor("indices", TensorProto.INT64, [1], [0]), [4]
    )
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    sparse_graph = helper.make_graph([], "sparse", [], [y], sparse_initializer=[sparse])
    function_node = helper.make_node("Constant", [], ["out"], value=external("in_function"))
    function = helper.make_function("local", "f", [], ["out"], [function_node], [])
    nested = if_model(constant_graph(external("deep")))
    loop_body = helper.make_graph(
        [], "body", [], [], initializer=[external("in_body")]
    )  # a subgraph initializer
    loop = helper.make_node("Loop", ["", ""], [], name="loop", body=loop_body)
    return {
        "constant node": model_of(constant_graph(external("const"))),
        "initializer": model_of(
            helper.make_graph([], "init", [], [y], initializer=[external("W")])
        ),
        "sparse initializer": model_of(sparse_graph),
        "If subgraph": nested,
        "If inside If": if_model(nested.graph),
        "Loop body initializer": model_of(helper.make_graph([loop], "loop", [], [y])),
        "model function": model_of(helper.make_graph([], "fn", [], [y]), functions=[function]),
    }


def bundle_with(tmp_path: Path, model: ModelProto, link_to: Path | None) -> Path:
    """bundle/model.onnx with bundle/weights.bin a symlink to `link_to` (outside the bundle)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "model.onnx").write_bytes(model.SerializeToString())
    if link_to is not None:
        (bundle / "weights.bin").symlink_to(link_to)
    return bundle / "model.onnx"


@pytest.mark.parametrize("where", sorted(placements()))
def test_external_data_anywhere_in_the_model_may_not_leave_the_bundle(
    where: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(16))
    path = bundle_with(tmp_path, placements()[where], link_to=secret)
    with pytest.raises(ExternalDataError) as info:
        check_model(path)
    assert "leads outside the manifest's folder through a symlink" in str(info.value)
    assert str(secret) in str(info.value)


def test_lint_reports_a_constant_node_escape_as_ms104(write_bundle: WriteBundle) -> None:
    model = placements()["constant node"].SerializeToString()
    manifest = write_bundle(files={"model.onnx": model})
    text = manifest.read_text("utf-8").replace(
        hashlib.sha256(manifest.with_name("model.onnx").read_bytes()).hexdigest(), "0" * 64
    )
    manifest.write_text(text, "utf-8")
    (manifest.parent / "weights.bin").symlink_to("/etc/hostname")
    found = {d.rule_id: d.message for d in lint_file(manifest)}
    assert "MS104" in found and "MS103" not in found
    assert "node 'g_const' attribute 'value'" in found["MS104"]


def test_verify_model_stops_before_onnxruntime_could_read_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(16))
    path = bundle_with(tmp_path, placements()["constant node"], link_to=secret)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ExternalDataError, match="node 'g_const'"):
        verify_model(path.parent, "model.onnx", digest)


def test_external_data_without_a_location_is_refused(tmp_path: Path) -> None:
    tensor = external("nowhere")
    del tensor.external_data[:]
    path = bundle_with(tmp_path, model_of(constant_graph(tensor)), link_to=None)
    with pytest.raises(ExternalDataError, match="names no file"):
        check_model(path)


# -- the walk ----------------------------------------------------------------------------


@st.composite
def nested_graphs(draw: st.DrawFn) -> tuple[GraphProto, set[str]]:
    """A graph with tensors at random depths in initializers, Constant nodes and If branches."""
    names: set[str] = set()
    counter = iter(range(10_000))

    def graph(depth: int) -> GraphProto:
        initializers, nodes = [], []
        for _ in range(draw(st.integers(0, 2))):
            name = f"t{next(counter)}"
            names.add(name)
            initializers.append(helper.make_tensor(name, TensorProto.FLOAT, [1], [1.0]))
        for _ in range(draw(st.integers(0, 2))):
            kind = draw(st.sampled_from(["constant", "if"] if depth < 4 else ["constant"]))
            out = f"o{next(counter)}"
            if kind == "constant":
                name = f"t{next(counter)}"
                names.add(name)
                value = helper.make_tensor(name, TensorProto.FLOAT, [1], [1.0])
                nodes.append(helper.make_node("Constant", [], [out], value=value))
            else:
                nodes.append(
                    helper.make_node(
                        "If",
                        ["c"],
                        [out],
                        then_branch=graph(depth + 1),
                        else_branch=graph(depth + 1),
                    )
                )
        return helper.make_graph(nodes, f"g{next(counter)}", [], [], initializer=initializers)

    return graph(0), names


@settings(max_examples=80, deadline=None)
@given(nested_graphs())
def test_the_walk_finds_every_tensor_once(case: tuple[GraphProto, set[str]]) -> None:
    graph, names = case
    found = [tensor.name for _, tensor in iter_tensors(model_of(graph))]
    assert sorted(found) == sorted(names)


def test_the_walk_reaches_subgraphs_nested_as_deep_as_protobuf_allows() -> None:
    leaf = constant_graph(helper.make_tensor("bottom", TensorProto.FLOAT, [1], [1.0]))
    graph = leaf
    for level in range(25):  # each level nests 3 messages; protobuf stops near 100
        node: NodeProto = helper.make_node("If", ["c"], [f"o{level}"], then_branch=graph)
        graph = helper.make_graph([node], f"g{level}", [], [])
    assert [t.name for _, t in iter_tensors(graph)] == ["bottom"]


# -- reading the file -------------------------------------------------------------------


def test_a_nul_byte_in_a_path_is_a_clear_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="contains a NUL byte"):
        resolve_in_bundle(tmp_path, "model\x00.onnx")


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_model_that_is_not_a_regular_file_is_refused(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    with pytest.raises(ModelError, match="not a regular file"):
        resolve_in_bundle(tmp_path, "model.onnx")
    with pytest.raises(ModelError, match="not a regular file"):
        sha256_file(path)


def test_a_model_over_its_limit_names_the_setting(
    tmp_path: Path, identity_model: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(identity_model)
    monkeypatch.setenv("MODELSTACK_MAX_MODEL_BYTES", str(len(identity_model) - 1))
    for read in (sha256_file, check_model):
        with pytest.raises(ModelError, match="MODELSTACK_MAX_MODEL_BYTES"):
            read(path)
    monkeypatch.setenv("MODELSTACK_MAX_MODEL_BYTES", str(len(identity_model)))
    assert sha256_file(path) == hashlib.sha256(identity_model).hexdigest()
    assert check_model(path).inputs[0].name == "x"
