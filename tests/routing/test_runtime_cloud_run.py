"""A routed entry whose tier is a Cloud Run service, reached with an ID token.

The tier is the real runtime (a DataPlane behind the real route table) on 127.0.0.1 behind a
check that, as Cloud Run does, refuses a request without ``Authorization: Bearer <ID token>``
for the tier's URL. The ID token comes from google-auth against a FakeMetadataServer (cloud-run)
or, across clouds, from AWS credentials through FakeGoogleIam's STS and IAM Credentials
endpoints (cloud-run-federated). The entry is a real DataPlane configured from its
environment's ``MODELSTACK_ROUTING_TIERS``.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_runtime_cloud_lambda import ESCALATE, TRACE, UNSURE, http_infer, write_service

from modelstack_runtime.config import load_config
from modelstack_runtime.dataplane import DataPlane, load_dataplane
from modelstack_runtime.routes import handle
from modelstack_runtime.routing_config import TIERS_ENV

sys.path.insert(0, str(Path(__file__).resolve().parent / "cloud"))
from fake_google import FakeGoogleIam, FakeMetadataServer


class BearerTier:
    """The tier runtime behind Cloud Run's check: an ID token whose audience is its URL."""

    def __init__(self, dataplane: DataPlane) -> None:
        self.seen: list[dict[str, str]] = []
        tier = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                tier.seen.append(headers)
                if _audience(headers.get("authorization", "")) != tier.url:
                    self._send(401, {"Content-Type": "text/plain"}, b"no valid ID token")
                    return
                reply = handle(dataplane, "POST", self.path, headers, body)
                self._send(int(reply.status), reply.headers, reply.body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _audience(authorization: str) -> str | None:
    if not authorization.startswith("Bearer "):
        return None
    try:
        claims = authorization.removeprefix("Bearer ").split(".")[1]
        aud = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["aud"]
    except (IndexError, ValueError, KeyError):
        return None
    return str(aud)


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BearerTier]:
    dataplane = load_dataplane(load_config(write_service(tmp_path_factory.mktemp("t"), "large")))
    server = BearerTier(dataplane)
    yield server
    server.close()
    dataplane.close()


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMetadataServer]:
    from google.auth.compute_engine import _metadata

    server = FakeMetadataServer()
    monkeypatch.setenv("GCE_METADATA_IP", server.address)
    # google-auth reads GCE_METADATA_HOST once, when it is imported; set it as that would.
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", server.address)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    yield server
    server.close()


def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: dict[str, Any]) -> DataPlane:
    monkeypatch.setenv(TIERS_ENV, json.dumps({"large": address}))
    path = write_service(tmp_path, "small", routing={"tiers": {}, "escalate": ESCALATE})
    return load_dataplane(load_config(path))


def test_the_entry_calls_a_cloud_run_tier_with_a_metadata_id_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tier: BearerTier,
    metadata: FakeMetadataServer,
) -> None:
    tier.seen.clear()
    address = {"kind": "cloud-run", "url": tier.url, "model_name": "large", "timeout_ms": 5000}
    dataplane = entry(tmp_path, monkeypatch, address)
    try:
        for n in range(2):
            headers = {"x-request-id": f"req-{n}", "traceparent": TRACE}
            status, answer, _ = http_infer(dataplane, UNSURE, headers)
            assert status == 200 and answer["model_name"] == "large"
            assert answer["parameters"] == {"escalated": True, "routed_by": "escalate"}
    finally:
        dataplane.close()
    assert [s["x-request-id"] for s in tier.seen] == ["req-0", "req-1"]
    assert all(s["traceparent"] == TRACE for s in tier.seen)
    identity = [s for s in metadata.seen if s.path.endswith("/identity")]
    assert len(identity) == 1 and identity[0].query["audience"] == [tier.url]


def test_without_a_token_the_cloud_run_tier_refuses_and_the_entry_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tier: BearerTier
) -> None:
    """An http tier address (no token) meets Cloud Run's check: a tier failure, not a 500."""
    tier.seen.clear()
    dataplane = entry(tmp_path, monkeypatch, {"kind": "http", "url": tier.url})
    try:
        status, answer, _ = http_infer(dataplane, UNSURE)
    finally:
        dataplane.close()
    assert status == 200 and answer["model_name"] == "small"
    assert answer["parameters"]["tier_failure"] == "tier 'large': answered 401"
    assert "authorization" not in tier.seen[0]


def test_a_lambda_entry_calls_a_cloud_run_tier_through_workload_identity_federation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tier: BearerTier
) -> None:
    from modelstack.providers.gcp_cloud_run.routing_grants_wif import credential_config

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDROUTINGTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "routing-test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "routing-session-token")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    tier.seen.clear()
    google = FakeGoogleIam()
    pool = "projects/42/locations/global/workloadIdentityPools/ms-entry/providers/aws-lambda"
    config = {
        **credential_config(f"//iam.googleapis.com/{pool}"),
        "token_url": f"{google.url}/v1/token",
    }
    address = {
        "kind": "cloud-run-federated",
        "url": tier.url,
        "model_name": "large",
        "service_account": "entry-to-large@p.iam.gserviceaccount.com",
        "credential_config": config,
        "iam_url": google.url,
    }
    dataplane = entry(tmp_path, monkeypatch, address)
    try:
        status, answer, _ = http_infer(dataplane, UNSURE, {"x-request-id": "fed-1"})
    finally:
        dataplane.close()
        google.close()
    assert status == 200 and answer["model_name"] == "large"
    assert [s.path for s in google.seen] == [
        "/v1/token",
        f"/v1/projects/-/serviceAccounts/{address['service_account']}:generateIdToken",
    ]
    assert tier.seen[0]["x-request-id"] == "fed-1"
    assert _audience(tier.seen[0]["authorization"]) == tier.url
