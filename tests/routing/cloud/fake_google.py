"""Fake Google endpoints on 127.0.0.1 (the metadata server, STS, IAM Credentials) and a
recording tier. They answer the wire protocol google-auth speaks and record what it sent, so the
real google-auth client code runs on our side."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def fake_jwt(subject: str, audience: str, lifetime_s: int = 3600) -> str:
    """A JWT-shaped token (unsigned: the fakes and the tier only compare it)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"sub": subject, "aud": audience, "exp": int(time.time()) + lifetime_s}
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServer:
    """One HTTP server; `answer(seen) -> (status, headers, body)` decides each reply."""

    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                fake.seen.append(seen)
                status, headers, body = fake.answer(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeMetadataServer(FakeServer):
    """The metadata server's ping (`GET /`), service account and identity endpoints."""

    email = "entry@p.iam.gserviceaccount.com"

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        flavor = {"Metadata-Flavor": "Google"}
        if seen.path == "/":
            return 200, flavor, b""
        if seen.path.endswith("/service-accounts/default/"):
            info = {"email": self.email, "aliases": ["default"], "scopes": []}
            return 200, {**flavor, "Content-Type": "application/json"}, json.dumps(info).encode()
        if seen.path.endswith("/service-accounts/default/identity"):
            if seen.headers.get("metadata-flavor") != "Google":
                return 403, {}, b"missing Metadata-Flavor"
            audience = seen.query["audience"][0]
            token = fake_jwt(self.email, audience)
            return 200, {**flavor, "Content-Type": "text/plain"}, token.encode()
        return 404, flavor, b""


class FakeGoogleIam(FakeServer):
    """Google's STS token exchange and the IAM Credentials generateIdToken method."""

    federated_token = "federated-access-token"

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json"}
        if seen.path == "/v1/token":
            document = {
                "access_token": self.federated_token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3600,
            }
            return 200, json_type, json.dumps(document).encode()
        if seen.path.endswith(":generateIdToken"):
            if seen.headers.get("authorization") != f"Bearer {self.federated_token}":
                return 401, json_type, b'{"error": "unauthenticated"}'
            email = seen.path.split("/serviceAccounts/")[1].split(":")[0]
            audience = json.loads(seen.body)["audience"]
            return 200, json_type, json.dumps({"token": fake_jwt(email, audience)}).encode()
        return 404, json_type, b"{}"


class RecordingTier(FakeServer):
    """A tier that answers 200 with a v2-shaped response, or what `status` says."""

    status = 200

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"model_name": "large", "outputs": [], "id": "from-tier"}).encode()
        return self.status, {"Content-Type": "application/json"}, body
