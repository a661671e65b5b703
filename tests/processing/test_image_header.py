"""Image headers read without decoding: sizes agree with Pillow, junk is a BadRequest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from processing_images import encode, photo

from modelstack_runtime.errors import BadRequest
from modelstack_runtime.image_header import read_header


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    fmt=st.sampled_from(["PNG", "JPEG"]),
    mode=st.sampled_from(["RGB", "L"]),
    progressive=st.booleans(),
)
def test_the_header_size_is_the_image_size(
    width: int, height: int, fmt: str, mode: str, progressive: bool
) -> None:
    image = Image.new(mode, (width, height), 90)
    if fmt == "JPEG" and progressive:
        import io

        buffer = io.BytesIO()
        image.save(buffer, "JPEG", progressive=True)
        data = buffer.getvalue()
    else:
        data = encode(image, fmt)
    header = read_header("image", data)
    assert (header.format, header.width, header.height) == (fmt.lower(), width, height)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=64), prefix=st.sampled_from([b"", b"\xff\xd8", b"\x89PNG\r\n\x1a\n"])
)
def test_any_bytes_are_a_header_or_a_bad_request(data: bytes, prefix: bytes) -> None:
    try:
        header = read_header("image", prefix + data)
    except BadRequest as exc:
        assert "input 'image'" in str(exc)
        return
    assert header.width > 0 and header.height > 0


def test_every_cut_of_a_jpeg_is_a_bad_request_until_the_frame_header() -> None:
    data = encode(photo(), "JPEG")
    full = read_header("image", data)
    for cut in range(len(data)):
        try:
            header = read_header("image", data[:cut])
        except BadRequest:
            continue
        assert header == full


def test_a_jpeg_with_four_components_is_refused() -> None:
    with pytest.raises(BadRequest, match="4 colour components"):
        read_header("image", encode(Image.new("CMYK", (3, 3)), "JPEG"))
