"""What `modelstack init` offers for a model whose input looks like an image."""

from __future__ import annotations

from modelstack.manifest.model import TensorSpec
from modelstack.modelfile import ModelSignature

__all__ = ["image_layout", "image_offer"]

_FLOATS = ("FP16", "FP32", "FP64")


def image_layout(spec: TensorSpec) -> tuple[str, int, int, int] | None:
    """(layout, channels, height, width) when `spec` is N,C,H,W or N,H,W,C float with C in
    {1, 3} and a fixed height and width; else None."""
    if spec.datatype not in _FLOATS or len(spec.shape) != 4:
        return None
    _, a, b, c = spec.shape
    if a in (1, 3) and b > 0 and c > 0 and c not in (1, 3):
        return "nchw", a, b, c
    if c in (1, 3) and a > 0 and b > 0:
        return "nhwc", c, a, b
    return None


def image_offer(signature: ModelSignature) -> str:
    """A commented-out `preprocess` block (indented under `model:`), or "" for other models."""
    if len(signature.inputs) != 1:
        return ""
    found = image_layout(signature.inputs[0])
    if found is None:
        return ""
    layout, channels, height, width = found
    gray = "\n  #     grayscale: true" if channels == 1 else ""
    return (
        "  # The input looks like an image: uncomment to accept JPEG/PNG files instead\n"
        "  # (then smoke tests send `image: {file: some.png}`; see the README).\n"
        "  # preprocess:\n"
        "  #   image:\n"
        f"  #     resize: {{size: [{height}, {width}]}}{gray}\n"
        "  #     scale: 0.00392156862745098\n"
        f"  #     layout: {layout}\n"
    )
