"""Raw inputs of a model compiled with pre-processing: images sent as BYTES, custom ops.

The runtime config's `processing` setting (written at build time) says which inputs carry an
encoded image, their formats and pixel limit, and whether the graph needs the
onnxruntime-extensions operator library (for `DecodeImage`); the library is registered only then.

An image arrives as the file's bytes (the binary tensor data extension) or, since JSON cannot
carry bytes that are not UTF-8, as the file in base64 (a v2 JSON request, a Lambda invocation
or a queue message). Both are unambiguous: base64 text never starts like a JPEG or a PNG.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime as ort

from modelstack_runtime.errors import BadRequest, ConfigError
from modelstack_runtime.image_header import read_header
from modelstack_runtime.signature import Signature, TensorSpec

__all__ = ["DECODE_FAILED", "ImageInput", "Processing", "extensions_library"]

DECODE_FAILED: Final = "[ImageDecoder]"
"""How onnxruntime-extensions' decoder starts its error for data it cannot decode."""

_BASE64_STARTS: Final = (b"/9j/", b"iVBORw0KGgo")
"""How the base64 of a JPEG (FF D8 FF) and of a PNG's signature begin."""

_TINY_PNG: Final = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082"
)


@dataclass(frozen=True)
class ImageInput:
    input: str
    formats: tuple[str, ...] = ("jpeg", "png")
    max_pixels: int = 4096 * 4096


def extensions_library() -> str:
    """The path of the onnxruntime-extensions custom-operator library.

    Found without importing the package: its ``__init__`` imports ``onnx`` and costs about half
    a second of cold start, while registering the library itself takes well under 1 ms.
    """
    spec = importlib.util.find_spec("onnxruntime_extensions")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    for folder in folders:
        for path in sorted(Path(folder).glob("_extensions_pydll*")):
            if path.suffix in (".so", ".pyd", ".dylib"):
                return str(path)
    raise ConfigError(
        "this model decodes images with onnxruntime-extensions, which is not installed: "
        "pip install onnxruntime-extensions"
    )


@dataclass(frozen=True)
class Processing:
    custom_ops: bool = False
    images: tuple[ImageInput, ...] = ()

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> Processing:
        if not data:
            return cls()
        try:
            images = tuple(
                ImageInput(i["input"], tuple(i["formats"]), int(i["max_pixels"]))
                for i in data.get("images", ())
            )
            return cls(bool(data.get("custom_ops", False)), images)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"processing: malformed setting ({exc!r})") from None

    @property
    def image_inputs(self) -> frozenset[str]:
        return frozenset(i.input for i in self.images)

    def prepare(self, options: ort.SessionOptions) -> None:
        """Register the custom-operator library when the graph needs it."""
        if self.custom_ops:
            options.register_custom_ops_library(extensions_library())

    def signature(self, signature: Signature) -> Signature:
        """Image inputs as clients see them: BYTES of shape [1], one encoded image."""
        names = {i.input for i in self.images}
        inputs = tuple(
            TensorSpec(s.name, "BYTES", (1,)) if s.name in names else s for s in signature.inputs
        )
        return Signature(inputs, signature.outputs)

    def feed(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Encoded images as the graph's uint8 input, each checked before decoding."""
        if not self.images:
            return inputs
        feed = dict(inputs)
        for image in self.images:
            if image.input in feed:
                feed[image.input] = _encoded(image, feed[image.input])
        return feed

    def synthetic(self) -> dict[str, np.ndarray]:
        """A 1x1 PNG for each image input: what warm-up decodes when no request is given."""
        return {i.input: np.array([_TINY_PNG], dtype=object) for i in self.images}

    def bad_request(self, exc: Exception) -> BadRequest | None:
        """The client's fault in an onnxruntime error, when it is one (undecodable image)."""
        if self.images and DECODE_FAILED in str(exc):
            return BadRequest("the image cannot be decoded: it is corrupt or cut short")
        return None


def _encoded(image: ImageInput, array: np.ndarray) -> np.ndarray:
    item = array.ravel()[0]
    data = _file_bytes(image.input, item if isinstance(item, bytes) else str(item).encode())
    header = read_header(image.input, data)
    if header.format not in image.formats:
        raise BadRequest(
            f"input {image.input!r}: {header.format.upper()} images are not accepted here "
            f"(accepted: {', '.join(image.formats)})"
        )
    pixels = header.width * header.height
    if pixels > image.max_pixels:
        raise BadRequest(
            f"input {image.input!r}: the image is {header.width}x{header.height} = {pixels} "
            f"pixels, over the limit of {image.max_pixels} "
            "(model.preprocess.image.max_pixels)"
        )
    return np.frombuffer(data, dtype=np.uint8)


def _file_bytes(name: str, data: bytes) -> bytes:
    """The encoded image: `data` itself, or decoded when it is a JPEG or PNG in base64."""
    if not data.startswith(_BASE64_STARTS):
        return data
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise BadRequest(
            f"input {name!r}: the image looks like base64 but is not valid base64 (send the "
            "file's bytes with the binary tensor data extension, or its standard base64)"
        ) from None
