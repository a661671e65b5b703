"""An image in a v2 JSON request: the file's base64 as the BYTES element, the same labels."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from processing_images import as_bytes_tensor, encode, photo

from modelstack import load_manifest
from modelstack.smoke.local import prepare_local
from modelstack_runtime import DataPlane, decode_response, encode_binary_request, load_dataplane
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.processing import ImageInput, Processing

NAME = "catalog-tagging"


@pytest.fixture
def plane(catalog: Path) -> DataPlane:
    return load_dataplane(prepare_local(load_manifest(catalog)).config)


def json_request(element: str) -> bytes:
    tensor = {"name": "image", "datatype": "BYTES", "shape": [1], "data": [element]}
    return json.dumps({"inputs": [tensor]}).encode()


def json_labels(plane: DataPlane, element: str) -> list[list[str]]:
    payload, _ = plane.infer(NAME, json_request(element), None, "application/json")
    outputs = {o["name"]: o for o in json.loads(payload)["outputs"]}
    labels: list[str] = outputs["labels"]["data"]
    return [labels]


@pytest.mark.parametrize("file", ["zero.png", "three.jpg", "seven.png"])
def test_base64_in_json_gives_the_labels_the_raw_bytes_give(
    catalog: Path, plane: DataPlane, file: str
) -> None:
    data = (catalog.parent / "images" / file).read_bytes()
    body, length = encode_binary_request({"image": as_bytes_tensor(data)}, binary_outputs=False)
    binary, _ = plane.infer(NAME, body, length, "application/octet-stream")
    from_binary = decode_response(binary)["labels"].tolist()
    from_json = json_labels(plane, base64.b64encode(data).decode("ascii"))
    assert from_json == [[b.decode() for b in from_binary[0]]]
    assert from_json[0][0] == file.split(".")[0]


def test_invalid_base64_is_a_400_saying_so(plane: DataPlane) -> None:
    with pytest.raises(BadRequest, match="looks like base64 but is not valid base64"):
        json_labels(plane, "iVBORw0KGgo*not-base64*")


def test_text_that_is_neither_an_image_nor_its_base64_is_a_400(plane: DataPlane) -> None:
    with pytest.raises(BadRequest, match=r"not a JPEG or PNG image.*in JSON its base64"):
        json_labels(plane, "a cat")


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 40), height=st.integers(1, 40), fmt=st.sampled_from(["PNG", "JPEG"]))
def test_the_base64_of_any_image_feeds_the_same_bytes(width: int, height: int, fmt: str) -> None:
    data = encode(photo(width, height), fmt)
    processing = Processing(images=(ImageInput("image", max_pixels=40 * 40),))
    raw = processing.feed({"image": as_bytes_tensor(data)})["image"]
    text = processing.feed({"image": as_bytes_tensor(base64.b64encode(data))})["image"]
    assert raw.tobytes() == text.tobytes() == data


def test_a_base64_bomb_is_refused_by_its_decoded_header() -> None:
    data = encode(photo(30, 30), "PNG")
    processing = Processing(images=(ImageInput("image", max_pixels=100),))
    with pytest.raises(BadRequest, match="30x30 = 900 pixels, over the limit of 100"):
        processing.feed({"image": as_bytes_tensor(base64.b64encode(data))})


def test_tritonclient_sends_the_base64_in_json_and_gets_label_strings(catalog: Path) -> None:
    import numpy as np
    import tritonclient.http as httpclient

    from modelstack_runtime import RuntimeServer

    data = (catalog.parent / "images" / "seven.png").read_bytes()
    server = RuntimeServer(prepare_local(load_manifest(catalog)).config)
    server.start()
    server.load()
    try:
        client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
        image = httpclient.InferInput("image", [1], "BYTES")
        image.set_data_from_numpy(
            np.array([base64.b64encode(data)], dtype=object), binary_data=False
        )
        labels = httpclient.InferRequestedOutput("labels", binary_data=False)
        result = client.infer(NAME, [image], outputs=[labels])
        client.close()
    finally:
        server.stop(grace_s=5.0)
    assert result.as_numpy("labels").tolist() == [["seven", "eight", "nine"]]  # JSON: str
