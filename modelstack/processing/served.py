"""The signature clients see once the steps are compiled in, worked out without compiling.

Lint checks smoke tests and evaluation names against it; it agrees with the compiled graph's
(a test pins that).
"""

from __future__ import annotations

from modelstack.manifest.model import ModelSpec, TensorSpec
from modelstack.modelfile import ModelSignature
from modelstack.processing.spec import ImageSpec, PostprocessSpec, PreprocessSpec

__all__ = ["LABELS", "SCORES", "fed_input", "scored_output", "served_signature"]

LABELS = "labels"
SCORES = "scores"


def fed_input(pre: PreprocessSpec, signature: ModelSignature) -> TensorSpec | None:
    """The model input the pre-processing feeds (None when it names one the model lacks)."""
    if pre.model_input is not None:
        return signature.input(pre.model_input)
    return signature.inputs[0] if len(signature.inputs) == 1 else None


def scored_output(post: PostprocessSpec, signature: ModelSignature) -> TensorSpec | None:
    """The model output the post-processing reads."""
    if post.output is not None:
        return signature.output(post.output)
    return signature.outputs[0] if signature.outputs else None


def served_signature(model: ModelSpec, signature: ModelSignature) -> ModelSignature:
    """`signature` with the raw inputs and the `labels`/`scores` outputs of the steps."""
    inputs, outputs = signature.inputs, signature.outputs
    batch = -1
    if model.preprocess is not None:
        fed = fed_input(model.preprocess, signature)
        if fed is not None:
            raw = _raw_inputs(model.preprocess)
            rest = tuple(t for t in inputs if t.name != fed.name)
            inputs = raw + rest
        batch = 1 if isinstance(model.preprocess, ImageSpec) else -1
    post = model.postprocess
    if post is not None:
        scored = scored_output(post, signature)
        columns = scored.shape[-1] if scored is not None and scored.shape else -1
        k = 1 if columns == 1 and post.threshold is not None else (post.top_k or columns)
        outputs = (
            TensorSpec(LABELS, "BYTES", (batch, k)),
            TensorSpec(SCORES, "FP32", (batch, k)),
        )
    return ModelSignature(inputs, outputs)


def _raw_inputs(pre: PreprocessSpec) -> tuple[TensorSpec, ...]:
    if isinstance(pre, ImageSpec):
        return (TensorSpec(pre.input, "BYTES", (1,)),)
    return tuple(TensorSpec(f.name, f.datatype, (-1,)) for f in pre.fields)
