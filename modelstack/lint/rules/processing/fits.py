from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.lint.rules.processing import underlying_signature
from modelstack.manifest.model import TensorSpec
from modelstack.processing.served import fed_input
from modelstack.processing.spec import ImageSpec, PreprocessSpec, RecordSpec

_FLOATS = ("FP16", "FP32", "FP64")
PRE = ("model", "preprocess")
_IMAGE_HINT = (
    "set resize/center_crop to the input's height and width, and layout and grayscale to its "
    "channels"
)


class StepsFitModelInput(Rule):
    id = "MS110"
    summary = "Pre-processing must produce the model input's dtype and shape"
    description = (
        "model.preprocess feeds one model input (its `model_input`, or the model's only input). "
        "An image gives a float tensor [1, C, H, W] (`nchw`) or [1, H, W, C] (`nhwc`) with C = 1 "
        "for grayscale, else 3, and H, W from `center_crop`, else a `stretch` resize; every fixed "
        "dimension of the model input must agree. A record gives [N, fields] and the model "
        "input must be a float tensor with that many columns."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        signature = underlying_signature(ctx)
        pre = ctx.manifest.model.preprocess if ctx.manifest else None
        if signature is None or pre is None:
            return
        kind = "image" if isinstance(pre, ImageSpec) else "record"
        fed = fed_input(pre, signature)
        if fed is None:
            names = ", ".join(t.name for t in signature.inputs)
            yield Finding(
                (*PRE, kind),
                f"model.preprocess.{kind}: cannot tell which model input it feeds (inputs: "
                f"{names}); set `model_input`",
            )
            return
        yield from _fits(pre, fed, kind)


def _fits(pre: PreprocessSpec, fed: TensorSpec, kind: str) -> Iterator[Finding]:
    where = (*PRE, kind)
    if fed.datatype not in _FLOATS:
        yield Finding(where, f"model input '{fed.name}' is {fed.datatype}; the steps give floats")
        return
    produced = pre.output_shape() if isinstance(pre, ImageSpec) else _record_shape(pre)
    if len(fed.shape) != len(produced) or any(
        want not in (-1, got) and got != -1 for want, got in zip(fed.shape, produced, strict=True)
    ):
        yield Finding(
            where,
            f"model.preprocess.{kind} gives shape {list(produced)} (-1: set by the image), "
            f"model input '{fed.name}' takes {list(fed.shape)}; "
            + (_IMAGE_HINT if isinstance(pre, ImageSpec) else "list one field per column"),
        )


def _record_shape(pre: RecordSpec) -> tuple[int, ...]:
    return (-1, len(pre.fields))
