"""The example's compiled graph served: raw images in, labels out, 400s for bad images."""

from __future__ import annotations

import base64
import http.client
import io
import json
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
from PIL import Image
from processing_images import as_bytes_tensor, encode, photo

from modelstack import load_manifest
from modelstack.smoke.local import LocalBundle, prepare_local
from modelstack_runtime import (
    DataPlane,
    LambdaAdapter,
    RuntimeConfig,
    RuntimeServer,
    decode_response,
    encode_binary_request,
    load_dataplane,
)
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.model import Model

NAME = "catalog-tagging"


@pytest.fixture
def bundle(catalog: Path) -> LocalBundle:
    return prepare_local(load_manifest(catalog))


@pytest.fixture
def config(bundle: LocalBundle) -> RuntimeConfig:
    return bundle.config


@pytest.fixture
def plane(config: RuntimeConfig) -> DataPlane:
    return load_dataplane(config)


def image_file(catalog: Path, name: str) -> bytes:
    return (catalog.parent / "images" / name).read_bytes()


def infer(plane: DataPlane, data: bytes, name: str = "image") -> dict[str, np.ndarray]:
    body, length = encode_binary_request({name: as_bytes_tensor(data)}, binary_outputs=False)
    payload, _ = plane.infer(NAME, body, length, "application/octet-stream")
    return decode_response(payload)


def status_of(plane: DataPlane, data: bytes, name: str = "image") -> tuple[int, str]:
    try:
        infer(plane, data, name)
    except BadRequest as exc:
        return int(exc.status), str(exc)
    return 200, ""


def test_metadata_lists_the_raw_input_and_the_label_outputs(plane: DataPlane) -> None:
    meta = plane.model_metadata(NAME)
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [1]}]
    assert meta["outputs"] == [
        {"name": "labels", "datatype": "BYTES", "shape": [1, 3]},
        {"name": "scores", "datatype": "FP32", "shape": [1, 3]},
    ]


def hand_processed(data: bytes) -> np.ndarray:
    """What the manifest's steps mean, done with Pillow and numpy."""
    gray = Image.open(io.BytesIO(data)).convert("RGB").convert("L")
    small = gray.resize((8, 8), Image.Resampling.BILINEAR)
    return np.asarray(small, np.float32).reshape(1, 1, 8, 8) / 255


@pytest.mark.parametrize("file", ["zero.png", "three.jpg", "seven.png"])
def test_processed_and_hand_processed_inputs_give_the_same_labels(
    catalog: Path, plane: DataPlane, file: str
) -> None:
    import onnxruntime as ort

    data = image_file(catalog, file)
    served = infer(plane, data)
    raw = ort.InferenceSession(str(catalog.parent / "model.onnx"))
    (logits,) = raw.run(None, {"pixels": hand_processed(data)})
    e = np.exp(logits - logits.max())
    probabilities = e / e.sum()
    order = np.argsort(-probabilities[0])[:3]
    names = (catalog.parent / "labels.txt").read_text(encoding="utf-8").split()
    assert served["labels"].tolist() == [[names[i].encode() for i in order]]
    # Pillow's and onnxruntime's antialiased resize (and libjpeg builds) differ by a few grey
    # levels, which moves a softmax score by a few hundredths.
    np.testing.assert_allclose(served["scores"][0], probabilities[0, order], atol=0.05)
    assert served["labels"][0, 0].decode() == file.split(".")[0]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height, with a few bytes of data (a bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    )  # fmt: skip


def test_a_decompression_bomb_is_refused_before_decoding(plane: DataPlane) -> None:
    status, message = status_of(plane, png_header_only(50_000, 50_000))
    assert status == 400
    assert "50000x50000 = 2500000000 pixels" in message
    assert "model.preprocess.image.max_pixels" in message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a\x01\x00\x01\x00", "not a JPEG or PNG image"),
        (encode(photo(), "PNG")[:40], "cannot be decoded"),
        (encode(photo(), "JPEG")[:6], "corrupt JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "corrupt PNG"),
        (encode(Image.new("CMYK", (4, 4)), "JPEG"), "colour components"),
    ],
    ids=["gif", "png-cut", "jpeg-cut", "png-no-ihdr", "cmyk"],
)
def test_bad_images_get_a_400_saying_why(plane: DataPlane, data: bytes, reason: str) -> None:
    status, message = status_of(plane, data)
    assert status == 400 and reason in message


def test_a_format_left_out_of_formats_is_refused(catalog: Path) -> None:
    text = catalog.read_text(encoding="utf-8").replace("formats: [jpeg, png]", "formats: [png]")
    catalog.write_text(text, encoding="utf-8")
    data = image_file(catalog, "three.jpg")
    bundle = prepare_local(load_manifest(catalog))
    bundle = LocalBundle(bundle.signature, [], bundle.config)
    status, message = status_of(load_dataplane(bundle.config), data)
    assert status == 400 and "JPEG images are not accepted here (accepted: png)" in message


def test_the_image_input_missing_is_a_400(plane: DataPlane) -> None:
    status, message = status_of(plane, encode(photo()), name="picture")
    assert status == 400 and "image" in message


def test_http_lambda_and_tritonclient_give_the_same_labels(
    catalog: Path, config: RuntimeConfig
) -> None:
    data = image_file(catalog, "three.jpg")
    in_process = infer(load_dataplane(config), data)["labels"]
    body, length = encode_binary_request({"image": as_bytes_tensor(data)}, binary_outputs=False)
    event = {
        "version": "2.0",
        "rawPath": f"/v2/models/{NAME}/infer",
        "rawQueryString": "",
        "headers": {"inference-header-content-length": str(length)},
        "requestContext": {"http": {"method": "POST", "path": f"/v2/models/{NAME}/infer"}},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    reply = LambdaAdapter(load_dataplane(config))(event, SimpleNamespace(aws_request_id="r"))
    assert reply["statusCode"] == 200
    payload = base64.b64decode(reply["body"]) if reply["isBase64Encoded"] else reply["body"]
    from_lambda = decode_response(payload if isinstance(payload, bytes) else payload.encode())
    server = RuntimeServer(config)
    server.start()
    server.load()
    try:
        from_http = http_labels(server.port, body, length)
        client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
        image = httpclient.InferInput("image", [1], "BYTES")
        image.set_data_from_numpy(np.array([data], dtype=np.object_), binary_data=True)
        result = client.infer(NAME, [image])
        from_triton = result.as_numpy("labels")
        client.close()
    finally:
        server.stop(grace_s=5.0)
    assert in_process.tolist() == from_lambda["labels"].tolist() == from_http.tolist()
    assert from_triton.tolist() == in_process.tolist()
    assert in_process[0, 0] == b"three"


def http_labels(port: int, body: bytes, length: int) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(length),
    }
    connection.request("POST", f"/v2/models/{NAME}/infer", body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    assert response.status == 200, payload
    header = response.getheader("Inference-Header-Content-Length")
    return decode_response(payload, int(header) if header else None)["labels"]


def test_a_bad_image_over_http_is_a_400_with_the_reason(config: RuntimeConfig) -> None:
    body, length = encode_binary_request({"image": as_bytes_tensor(b"not an image")})
    server = RuntimeServer(config)
    server.start()
    server.load()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(length),
        }
        connection.request("POST", f"/v2/models/{NAME}/infer", body=body, headers=headers)
        response = connection.getresponse()
        reply = json.loads(response.read())
        connection.close()
    finally:
        server.stop(grace_s=5.0)
    assert response.status == 400
    assert "not a JPEG or PNG image" in reply["error"]


def test_warm_up_decodes_a_real_image(config: RuntimeConfig) -> None:
    model = Model.load(config)
    model.warm_up()  # a warm-up failure would only be logged: check the synthetic input works
    outputs = model.infer(model.synthetic_inputs())
    assert outputs["labels"].shape == (1, 3)


def test_the_lambda_smoke_client_sends_images_as_a_binary_function_url_event(
    catalog: Path, config: RuntimeConfig
) -> None:
    from modelstack.processing.lambda_events import binary_invocation, binary_reply
    from modelstack.smoke.clients import InferenceFailed

    adapter = LambdaAdapter(load_dataplane(config))
    context = SimpleNamespace(aws_request_id="r")
    image = as_bytes_tensor(image_file(catalog, "zero.png"))
    event = json.loads(binary_invocation(NAME, {"image": image}))
    outputs = binary_reply(json.dumps(adapter(event, context)).encode())
    assert outputs["labels"][0, 0] == b"zero"
    bad = json.loads(binary_invocation(NAME, {"image": as_bytes_tensor(b"\xff\x00junk")}))
    with pytest.raises(InferenceFailed, match=r"400 .*not a JPEG or PNG image"):
        binary_reply(json.dumps(adapter(bad, context)).encode())
