"""Encoded test images made with Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, fmt, quality=95, subsampling=0)  # 4:4:4: decoders agree closely
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def photo(width: int = 20, height: int = 14, seed: int = 0) -> Image.Image:
    """A smooth RGB test image (smooth, so resize methods agree closely)."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.2, 1.0, 3)
    pixels = np.stack(
        [127 + 120 * np.sin(a * x / 3), 127 + 120 * np.cos(b * y / 3), (x * y * c) % 256], axis=-1
    )
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def as_bytes_tensor(data: bytes) -> np.ndarray:
    array = np.empty(1, dtype=object)
    array[0] = data
    return array
