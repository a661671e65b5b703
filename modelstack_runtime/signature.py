"""A model's signature: the names, v2 datatypes and shapes of its inputs and outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from modelstack_runtime.datatypes import onnx_to_v2

__all__ = ["Signature", "TensorSpec"]


class TensorSpec(NamedTuple):
    """One input or output; ``-1`` in ``shape`` is a dynamic dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    @classmethod
    def from_node_arg(cls, arg: Any) -> TensorSpec:
        """From an onnxruntime ``NodeArg`` (``name``, ``type``, ``shape``)."""
        shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape)
        return cls(name=arg.name, datatype=onnx_to_v2(arg.type), shape=shape)

    def matches_shape(self, shape: Sequence[int]) -> bool:
        """True when ``shape`` has this rank and agrees on every fixed dimension."""
        return len(shape) == len(self.shape) and all(
            want == -1 or want == got for want, got in zip(self.shape, shape, strict=True)
        )

    def to_metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


class Signature(NamedTuple):
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.outputs)
