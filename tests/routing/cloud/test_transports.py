"""The routing transports, each against a real counterpart on 127.0.0.1: boto3 against the
local Lambda Invoke API with the real runtime handler behind it; google-auth against Fake
metadata, STS and IAM Credentials endpoints; the forwarded request seen by the tier."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import numpy as np
import pytest
from fake_google import FakeGoogleIam, FakeMetadataServer, RecordingTier
from open_sockets import client_sockets_to
from routerkit import FakeFunctionRuntime, lambda_routes, port_of, running_router
from tiermodel import expected, write_tier_config

from modelstack.image.containers import free_port
from modelstack.providers.gcp_cloud_run.routing_grants_wif import credential_config
from modelstack_runtime import load_config
from modelstack_runtime.dataplane import load_dataplane
from modelstack_runtime.lambda_handler import LambdaAdapter
from modelstack_runtime.routing_forward import TierFailure, TierRefused
from modelstack_runtime.routing_transports import (
    TIERS_ENV,
    CloudForwarder,
    TierRequest,
    proxy_event,
    transport_for,
    transports_from_env,
)

POOL = "workloadIdentityPools/ms-entry-gpu"
X = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]
HEADERS = {
    "content-type": "application/json",
    "x-request-id": "req-42",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "cookie": "session=secret",
}


_OPEN: list[Any] = []


def opened(name: str, address: dict[str, Any], *, max_reply: int) -> Any:
    """`transport_for`, closed after the test (a boto3 client keeps its connection)."""
    transport = transport_for(name, address, max_reply=max_reply)
    _OPEN.append(transport)
    return transport


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def infer_request(model: str = "iris") -> TierRequest:
    body = {
        "id": "req-42",
        "inputs": [{"name": "float_input", "datatype": "FP32", "shape": [2, 4], "data": X}],
    }
    return TierRequest(f"/v2/models/{model}/infer", json.dumps(body).encode(), HEADERS)


@pytest.fixture
def lambda_tier(tmp_path: Path, aws_env: None) -> Iterator[tuple[dict[str, Any], Any]]:
    """The real runtime's Lambda handler behind the local Invoke API; its address."""
    adapter = LambdaAdapter(load_dataplane(load_config(write_tier_config(tmp_path))))
    api_port = free_port()
    with running_router(tmp_path, lambda_routes(api_port)) as server:
        server.router.reload()
        runtime = FakeFunctionRuntime(f"127.0.0.1:{api_port}", adapter)
        address = {
            "kind": "aws-lambda",
            "function_name": "fn.local",
            "qualifier": "live",
            "region": "eu-west-1",
            "timeout_ms": 30000,
            "endpoint_url": f"http://127.0.0.1:{port_of(server)}",
        }
        yield address, runtime


def test_lambda_invoke_answers_the_tiers_v2_response(lambda_tier: Any) -> None:
    address, runtime = lambda_tier
    reply = opened("large", address, max_reply=1 << 20).send(infer_request())
    assert reply.status == 200
    answer = json.loads(reply.body)
    assert answer["id"] == "req-42" and answer["model_name"] == "iris"
    outputs = {o["name"]: o for o in answer["outputs"]}
    probabilities, label = expected(np.array(X, dtype=np.float32))
    assert np.allclose(outputs["probabilities"]["data"], probabilities.ravel(), atol=1e-5)
    assert outputs["label"]["data"] == label.tolist()
    event = runtime.events[0]
    assert event["rawPath"] == "/v2/models/iris/infer" and event["isBase64Encoded"] is True
    assert event["headers"] == {k: v for k, v in HEADERS.items() if k != "cookie"}


def test_a_bad_request_at_the_tier_comes_back_as_its_4xx(lambda_tier: Any) -> None:
    address, _ = lambda_tier
    reply = opened("large", address, max_reply=1 << 20).send(infer_request("nope"))
    assert reply.status == 404 and "nope" in json.loads(reply.body)["error"]


def test_an_answer_over_the_limit_is_a_tier_failure_naming_the_setting(lambda_tier: Any) -> None:
    address, _ = lambda_tier
    with pytest.raises(TierFailure) as failed:
        opened("large", address, max_reply=64).send(infer_request())
    assert str(failed.value) == "tier 'large': its answer is over max_response_bytes (64)"
    # The failure's traceback still holds the call's frames: the socket must not wait for them.
    port = int(address["endpoint_url"].rsplit(":", 1)[1])
    assert client_sockets_to(port) == 0, "the cut answer's connection is closed at once"


def test_a_function_error_is_a_tier_failure(tmp_path: Path, aws_env: None) -> None:
    def broken(event: Any) -> Any:
        raise RuntimeError("model exploded")

    api_port = free_port()
    with running_router(tmp_path, lambda_routes(api_port)) as server:
        server.router.reload()
        FakeFunctionRuntime(f"127.0.0.1:{api_port}", broken)
        address = {"kind": "aws-lambda", "function_name": "fn.local", "region": "eu-west-1",
                   "endpoint_url": f"http://127.0.0.1:{port_of(server)}"}  # fmt: skip
        with pytest.raises(TierFailure) as failed:
            opened("large", address, max_reply=1 << 20).send(infer_request())
    assert str(failed.value) == "tier 'large': function error RuntimeError"


def test_an_unknown_function_and_an_unreachable_endpoint_are_tier_failures(
    lambda_tier: Any,
) -> None:
    address, _ = lambda_tier
    missing = opened("large", {**address, "function_name": "other"}, max_reply=1 << 20)
    with pytest.raises(TierFailure, match="ResourceNotFoundException"):
        missing.send(infer_request())
    closed = {**address, "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(TierFailure, match=r"lambda\.invoke: EndpointConnectionError"):
        opened("large", closed, max_reply=1 << 20).send(infer_request())


def test_the_proxy_event_carries_the_body_exactly() -> None:
    request = TierRequest("/v2/models/m/infer", b"\x00\xffbinary", {"x-request-id": "r"})
    event = proxy_event(request)
    assert base64.b64decode(event["body"]) == b"\x00\xffbinary"
    assert event["requestContext"]["http"] == {"method": "POST", "path": "/v2/models/m/infer"}


@pytest.fixture
def tier() -> Iterator[RecordingTier]:
    server = RecordingTier()
    yield server
    server.close()


def test_cloud_run_hop_sends_a_metadata_id_token_for_the_tier_url(
    tier: RecordingTier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.auth.compute_engine import _metadata

    metadata = FakeMetadataServer()
    try:
        monkeypatch.setenv("GCE_METADATA_IP", metadata.address)
        # google-auth reads GCE_METADATA_HOST once, when it is imported; set it as that would.
        monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", metadata.address)
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        transport = opened("gpu", {"kind": "cloud-run", "url": tier.url}, max_reply=4096)
        for _ in range(2):
            assert transport.send(infer_request()).status == 200
    finally:
        metadata.close()
    identity = [s for s in metadata.seen if s.path.endswith("/identity")]
    assert len(identity) == 1, "the ID token is cached until shortly before it expires"
    assert identity[0].query["audience"] == [tier.url]
    token = tier.seen[0].headers["authorization"].removeprefix("Bearer ")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == tier.url
    assert tier.seen[0].path == "/v2/models/iris/infer"
    assert tier.seen[0].headers["x-request-id"] == "req-42"
    assert tier.seen[0].headers["traceparent"] == HEADERS["traceparent"]
    assert "cookie" not in tier.seen[0].headers


def test_a_fault_from_the_tier_is_a_tier_failure(tier: RecordingTier) -> None:
    tier.status = 500
    transport = opened("gpu", {"kind": "http", "url": tier.url}, max_reply=4096)
    with pytest.raises(TierFailure, match="tier 'gpu': answered 500"):
        transport.send(infer_request())


def test_federated_hop_exchanges_aws_credentials_for_an_id_token(
    tier: RecordingTier, aws_env: None
) -> None:
    google = FakeGoogleIam()
    audience = f"//iam.googleapis.com/projects/42/locations/global/{POOL}/providers/aws-lambda"
    config = {**credential_config(audience), "token_url": f"{google.url}/v1/token"}
    address = {
        "kind": "cloud-run-federated",
        "url": tier.url,
        "service_account": "entry-to-gpu@p.iam.gserviceaccount.com",
        "credential_config": config,
        "iam_url": google.url,
    }
    try:
        reply = opened("gpu", address, max_reply=4096).send(infer_request())
    finally:
        google.close()
    assert reply.status == 200
    exchange, mint = google.seen
    form = {k: v[0] for k, v in parse_qs(exchange.body.decode()).items()}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert form["audience"] == audience
    assert form["subject_token_type"] == "urn:ietf:params:aws:token-type:aws4_request"
    signed = json.loads(unquote(form["subject_token"]))
    assert signed["url"].startswith("https://sts.eu-west-1.amazonaws.com")
    headers = {h["key"].lower(): h["value"] for h in signed["headers"]}
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDROUTINGTEST/")
    assert headers["x-amz-security-token"] == "routing-session-token"
    assert headers["x-goog-cloud-target-resource"] == audience
    account = address["service_account"]
    assert mint.path == f"/v1/projects/-/serviceAccounts/{account}:generateIdToken"
    assert json.loads(mint.body) == {"audience": tier.url, "includeEmail": True}
    token = tier.seen[0].headers["authorization"].removeprefix("Bearer ")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims == {**claims, "sub": address["service_account"], "aud": tier.url}


def test_transports_from_the_environment() -> None:
    tiers = {"large": {"kind": "http", "url": "http://127.0.0.1:9/"}}
    transports = transports_from_env({TIERS_ENV: json.dumps(tiers)}, max_reply=10)
    assert list(transports) == ["large"]
    assert transports_from_env({}, max_reply=10) == {}


def test_the_cloud_forwarder_keeps_the_forwarders_contract(lambda_tier: Any) -> None:
    address, _ = lambda_tier
    forwarder = CloudForwarder(
        {"large": opened("large", address, max_reply=1 << 20)}, {"large": "iris"}
    )
    body, headers = forwarder.infer("large", infer_request().body, HEADERS, client_errors=False)
    assert json.loads(body)["model_name"] == "iris"
    assert headers == {"Content-Type": "application/json"}
    bad = b'{"inputs": [{"name": "nope", "datatype": "FP32", "shape": [1], "data": [1]}]}'
    with pytest.raises(TierRefused) as refused:
        forwarder.infer("large", bad, HEADERS, client_errors=True)
    assert refused.value.status == 400 and "missing input 'float_input'" in str(refused.value)
    with pytest.raises(TierFailure, match="tier 'large': answered 400"):
        forwarder.infer("large", bad, HEADERS, client_errors=False)
