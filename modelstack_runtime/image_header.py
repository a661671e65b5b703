"""The format and pixel size of an encoded image, read from its header without decoding.

Decoding an image allocates width x height x 3 bytes; a small file can declare a huge image (a
decompression bomb), so the runtime reads the declared size first and refuses an image over its
limit before any pixel is decoded.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from modelstack_runtime.errors import BadRequest

__all__ = ["ImageHeader", "read_header"]

_PNG: Final = b"\x89PNG\r\n\x1a\n"
_JPEG: Final = b"\xff\xd8"
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""JPEG start-of-frame markers (C4 is DHT, C8 reserved, CC DAC)."""
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD9)})


class ImageHeader(NamedTuple):
    format: str
    width: int
    height: int


def read_header(name: str, data: bytes) -> ImageHeader:
    """The header of the PNG or JPEG in `data`; BadRequest for anything else or a cut header."""
    if data.startswith(_PNG):
        return _png(name, data)
    if data.startswith(_JPEG):
        return _jpeg(name, data)
    raise BadRequest(
        f"input {name!r}: not a JPEG or PNG image (the first bytes are {data[:8]!r}); send the "
        "file's bytes, or in JSON its base64"
    )


def _png(name: str, data: bytes) -> ImageHeader:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise BadRequest(f"input {name!r}: corrupt PNG (no IHDR header)")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return _sized(name, "png", width, height)


def _jpeg(name: str, data: bytes) -> ImageHeader:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise BadRequest(f"input {name!r}: corrupt JPEG (no marker at byte {at})")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF:
            if length < 8 or at + 10 > len(data):
                break
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            if data[at + 9] not in (1, 3):
                raise BadRequest(
                    f"input {name!r}: a JPEG with {data[at + 9]} colour components (CMYK?) "
                    "is not accepted; send grayscale or RGB"
                )
            return _sized(name, "jpeg", width, height)
        if marker == 0xDA or length < 2:  # scan data before any frame header
            break
        at += 2 + length
    raise BadRequest(f"input {name!r}: corrupt JPEG (no frame header with its size)")


def _sized(name: str, kind: str, width: int, height: int) -> ImageHeader:
    if width <= 0 or height <= 0:
        raise BadRequest(f"input {name!r}: corrupt {kind.upper()} (size {width}x{height})")
    return ImageHeader(kind, width, height)
