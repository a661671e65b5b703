"""The manifest's `model.preprocess` and `model.postprocess` as typed, checked steps.

The schema checks each value; `preprocess_from_dict` and `postprocess_from_dict` check what a
schema cannot say (one kind of pre-processing, one mean/std per channel) and raise
`ProcessingSpecError` with the manifest path of the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from modelstack.errors import ManifestError
from modelstack.manifest.source import PathKey

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FieldSpec",
    "ImageSpec",
    "PostprocessSpec",
    "PreprocessSpec",
    "ProcessingSpecError",
    "RecordSpec",
    "ResizeSpec",
    "postprocess_from_dict",
    "preprocess_from_dict",
]

DEFAULT_MAX_PIXELS: Final = 4096 * 4096
PRE: Final[PathKey] = ("model", "preprocess")
POST: Final[PathKey] = ("model", "postprocess")


class ProcessingSpecError(ManifestError):
    """A pre- or post-processing step that cannot work; `path` is where it is written."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class ResizeSpec:
    size: tuple[int, int]
    """(height, width)."""
    policy: str = "stretch"


@dataclass(frozen=True)
class ImageSpec:
    input: str = "image"
    formats: tuple[str, ...] = ("jpeg", "png")
    max_pixels: int = DEFAULT_MAX_PIXELS
    resize: ResizeSpec | None = None
    center_crop: tuple[int, int] | None = None
    channel_order: str = "rgb"
    grayscale: bool = False
    scale: float = 1 / 255
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    layout: str = "nchw"
    model_input: str | None = None

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3

    def output_hw(self) -> tuple[int, int] | None:
        """The (height, width) the steps produce, when they fix it (else None)."""
        if self.center_crop is not None:
            return self.center_crop
        if self.resize is not None and self.resize.policy == "stretch":
            return self.resize.size
        return None

    def output_shape(self) -> tuple[int, ...]:
        """The processed tensor's shape, -1 where the image decides."""
        h, w = self.output_hw() or (-1, -1)
        c = self.channels
        return (1, c, h, w) if self.layout == "nchw" else (1, h, w, c)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    datatype: str = "FP32"


@dataclass(frozen=True)
class RecordSpec:
    fields: tuple[FieldSpec, ...]
    model_input: str | None = None


PreprocessSpec = ImageSpec | RecordSpec


@dataclass(frozen=True)
class PostprocessSpec:
    labels: str
    output: str | None = None
    activation: str = "none"
    top_k: int | None = None
    threshold: float | None = None


def preprocess_from_dict(d: Mapping[str, Any]) -> PreprocessSpec:
    """The pre-processing of a schema-valid `model.preprocess` mapping."""
    if "image" in d and "record" in d:
        raise ProcessingSpecError(
            (*PRE, "record"),
            "model.preprocess: give either `image` or `record`, not both (one model input is "
            "fed by one kind of raw input)",
        )
    if "record" in d:
        return _record(d["record"])
    return _image(d["image"])


def _record(d: Mapping[str, Any]) -> RecordSpec:
    fields = tuple(FieldSpec(f["name"], f.get("datatype", "FP32")) for f in d["fields"])
    seen: set[str] = set()
    for index, f in enumerate(fields):
        if f.name in seen:
            raise ProcessingSpecError(
                (*PRE, "record", "fields", index, "name"),
                f"model.preprocess.record: field {f.name!r} is named twice; give each field "
                "its own name",
            )
        seen.add(f.name)
    return RecordSpec(fields=fields, model_input=d.get("model_input"))


def _pair(value: Any) -> tuple[int, int]:
    return int(value[0]), int(value[1])


def _image(d: Mapping[str, Any]) -> ImageSpec:
    resize = None
    if "resize" in d:
        resize = ResizeSpec(_pair(d["resize"]["size"]), d["resize"].get("policy", "stretch"))
    spec = ImageSpec(
        input=d.get("input", "image"),
        formats=tuple(dict.fromkeys(d.get("formats", ("jpeg", "png")))),
        max_pixels=int(d.get("max_pixels", DEFAULT_MAX_PIXELS)),
        resize=resize,
        center_crop=_pair(d["center_crop"]) if "center_crop" in d else None,
        channel_order=d.get("channel_order", "rgb"),
        grayscale=bool(d.get("grayscale", False)),
        scale=float(d.get("scale", 1 / 255)),
        mean=tuple(float(v) for v in d["mean"]) if "mean" in d else None,
        std=tuple(float(v) for v in d["std"]) if "std" in d else None,
        layout=d.get("layout", "nchw"),
        model_input=d.get("model_input"),
    )
    _check_image(spec)
    return spec


def _check_image(spec: ImageSpec) -> None:
    for key in ("mean", "std"):
        values = getattr(spec, key)
        if values is not None and len(values) not in (1, spec.channels):
            raise ProcessingSpecError(
                (*PRE, "image", key),
                f"model.preprocess.image.{key}: {len(values)} values for {spec.channels} "
                f"channel(s); give one value, or one per channel",
            )
    shorter = spec.resize is not None and spec.resize.policy == "shorter_side"
    if shorter and spec.center_crop is None:
        raise ProcessingSpecError(
            (*PRE, "image", "resize", "policy"),
            "model.preprocess.image.resize: `shorter_side` keeps the aspect ratio, so the "
            "size depends on the image; add `center_crop: [height, width]`",
        )
    if spec.resize is not None and spec.center_crop is not None:
        size, crop = _reachable(spec.resize), spec.center_crop
        if crop[0] > size[0] or crop[1] > size[1]:
            raise ProcessingSpecError(
                (*PRE, "image", "center_crop"),
                f"model.preprocess.image.center_crop: {list(crop)} is larger than the resized "
                f"image ({list(size)} at least); crop at most the resize size",
            )


def _reachable(resize: ResizeSpec) -> tuple[int, int]:
    """The smallest (height, width) the resize can give."""
    if resize.policy == "stretch":
        return resize.size
    side = min(resize.size)
    return side, side


def postprocess_from_dict(d: Mapping[str, Any]) -> PostprocessSpec:
    """The post-processing of a schema-valid `model.postprocess` mapping."""
    return PostprocessSpec(
        labels=d["labels"],
        output=d.get("output"),
        activation=d.get("activation", "none"),
        top_k=int(d["top_k"]) if "top_k" in d else None,
        threshold=float(d["threshold"]) if "threshold" in d else None,
    )
