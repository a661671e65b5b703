"""The Open Inference Protocol datatypes appear in a few places; they must all agree."""

from __future__ import annotations

from modelstack.modelfile import _ONNX_TO_V2
from modelstack.resources import load_schema
from modelstack.smoke.tensors import KIND_BY_DATATYPE
from modelstack_runtime.datatypes import V2_TO_NUMPY


def test_every_table_names_the_same_datatypes() -> None:
    schema = load_schema()["$defs"]
    in_schema = set(schema["tensor"]["properties"]["datatype"]["enum"])
    smoke_input = schema["smokeTest"]["properties"]["inputs"]["additionalProperties"]
    assert set(smoke_input["properties"]["datatype"]["enum"]) == in_schema
    assert set(V2_TO_NUMPY) == in_schema
    assert set(KIND_BY_DATATYPE) == in_schema
    assert set(_ONNX_TO_V2.values()) == in_schema
