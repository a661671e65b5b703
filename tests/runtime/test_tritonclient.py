"""The real tritonclient.http client against the server, JSON and binary."""

from __future__ import annotations

import numpy as np
import pytest
from httputil import GOOD_X
from runtime_models import expected_linear

from modelstack_runtime import RuntimeServer

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture
def client(server: RuntimeServer) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")


def test_health_and_metadata(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.is_model_ready("iris", model_version="3")
    metadata = client.get_model_metadata("iris")
    assert metadata["inputs"] == [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]
    assert [o["name"] for o in metadata["outputs"]] == ["probabilities", "label"]
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    client.close()


@pytest.mark.parametrize("binary_in", [False, True])
@pytest.mark.parametrize("binary_out", [False, True, None])
def test_infer(
    client: httpclient.InferenceServerClient, binary_in: bool, binary_out: bool | None
) -> None:
    infer_input = httpclient.InferInput("float_input", list(GOOD_X.shape), "FP32")
    infer_input.set_data_from_numpy(GOOD_X, binary_data=binary_in)
    outputs = (
        None  # no outputs: the client asks for all of them in binary
        if binary_out is None
        else [
            httpclient.InferRequestedOutput("probabilities", binary_data=binary_out),
            httpclient.InferRequestedOutput("label", binary_data=binary_out),
        ]
    )
    result = client.infer("iris", [infer_input], outputs=outputs, request_id="t-1")
    y, label = expected_linear(GOOD_X)
    np.testing.assert_allclose(result.as_numpy("probabilities"), y, rtol=1e-6)
    np.testing.assert_array_equal(result.as_numpy("label"), label)
    assert result.get_response()["id"] == "t-1"
    client.close()


@pytest.mark.parametrize("binary", [False, True])
def test_bytes_tensors(text_server: RuntimeServer, binary: bool) -> None:
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{text_server.port}")
    text = np.array(["héllo", "", "world"], dtype=object)
    inputs = [
        httpclient.InferInput("text", [3], "BYTES"),
        httpclient.InferInput("count", [2], "INT32"),
    ]
    inputs[0].set_data_from_numpy(text, binary_data=binary)
    inputs[1].set_data_from_numpy(np.array([4, -7], np.int32), binary_data=binary)
    outputs = [
        httpclient.InferRequestedOutput("text_out", binary_data=binary),
        httpclient.InferRequestedOutput("doubled", binary_data=binary),
    ]
    result = client.infer("text", inputs, outputs=outputs)
    got = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("text_out")]
    assert got == ["héllo", "", "world"]
    assert result.as_numpy("doubled").tolist() == [8, -14]
    client.close()


def test_errors_reach_the_client(client: httpclient.InferenceServerClient) -> None:
    bad = httpclient.InferInput("float_input", [1, 3], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 3), np.float32), binary_data=True)
    with pytest.raises(InferenceServerException, match=r"expected shape \[-1, 4\], got \[1, 3\]"):
        client.infer("iris", [bad])
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        client.get_model_metadata("nope")
    client.close()
