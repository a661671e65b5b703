"""How a routed service reaches a tier on a cloud: one transport per kind of hop.

The entry's environment names its tiers (``MODELSTACK_ROUTING_TIERS``: a JSON object from tier
name to address, written by the deployment). Each address has a ``kind``:

* ``aws-lambda`` (``function_name``, ``qualifier``, ``region``): boto3 ``lambda.invoke`` of
  the tier's alias, the v2 request wrapped as a function-URL (payload 2.0) proxy event, so the
  tier answers with status, headers and body as over HTTP;
* ``cloud-run`` (``url``): HTTPS with an ID token for the tier's URL from the metadata server
  (google-auth ``fetch_id_token``), as a Cloud Run service calls another;
* ``cloud-run-federated`` (``url``, ``service_account``, ``credential_config``): from AWS, the
  external-account credential configuration (no key in it) makes google-auth sign a
  GetCallerIdentity request with the function's AWS credentials and exchange it at Google's
  STS for a federated token, which asks the IAM Credentials API for an ID token of
  ``service_account`` for the tier's URL.

boto3 and google-auth are imported only when a tier of that kind exists. Every hop is bounded:
``timeout_ms`` per tier, and a tier's answer above the routing config's ``max_response_bytes``
is refused before it is read further. Failures follow the local forwarder's contract
(``routing_forward``): a tier that cannot be reached, or answers with a fault (5xx), raises
``TierFailure`` with a short reason; :class:`CloudForwarder` answers as ``Forwarder.infer``.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from modelstack_runtime.codec import HEADER_LENGTH_HEADER
from modelstack_runtime.errors import ConfigError
from modelstack_runtime.routing_config import TIERS_ENV, tier_addresses
from modelstack_runtime.routing_forward import FORWARDED_HEADERS, TierFailure, TierRefused

__all__ = [
    "IAM_CREDENTIALS_URL",
    "TIERS_ENV",
    "CloudForwarder",
    "FederatedIdTokens",
    "HttpTierTransport",
    "LambdaTierTransport",
    "MetadataIdTokens",
    "TierReply",
    "TierRequest",
    "TierTransport",
    "proxy_event",
    "transport_for",
    "transports_from_env",
]

IAM_CREDENTIALS_URL: Final = "https://iamcredentials.googleapis.com"
_LENGTH_KEY: Final = HEADER_LENGTH_HEADER.lower()
_TOKEN_MARGIN_S: Final = 300.0
"""An ID token is renewed this long before it expires."""


def _failure(tier: str, reason: str) -> TierFailure:
    return TierFailure(f"tier {tier!r}: {reason}")


def _oversize(tier: str, limit: int) -> TierFailure:
    return _failure(tier, f"its answer is over max_response_bytes ({limit})")


@dataclass(frozen=True)
class TierRequest:
    """The v2 request as the entry received it: method, path, headers (lower-case), body."""

    path: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"

    def forwarded_headers(self) -> dict[str, str]:
        """Only these travel on (no cookies, no credentials of the client)."""
        return {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_HEADERS}


@dataclass(frozen=True)
class TierReply:
    """The tier's answer (status below 500: a fault raises TierFailure instead)."""

    status: int
    headers: dict[str, str]
    body: bytes


class TierTransport(Protocol):
    name: str

    def send(self, request: TierRequest) -> TierReply: ...

    def close(self) -> None:
        """Let go of any connection kept for the next request."""


def _checked(tier: str, status: int, headers: dict[str, str], body: bytes) -> TierReply:
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise _failure(tier, f"answered {status}")
    return TierReply(status, headers, body)


def proxy_event(request: TierRequest) -> dict[str, Any]:
    """`request` as a function-URL (payload format 2.0) event; the body in base64."""
    return {
        "version": "2.0",
        "rawPath": request.path,
        "rawQueryString": "",
        "headers": request.forwarded_headers(),
        "requestContext": {"http": {"method": request.method, "path": request.path}},
        "body": base64.b64encode(request.body).decode("ascii"),
        "isBase64Encoded": True,
    }


class LambdaTierTransport:
    """boto3 `lambda.invoke` of a tier's alias (``endpoint_url`` only for a local Invoke API)."""

    def __init__(self, name: str, address: Mapping[str, Any], *, max_reply: int) -> None:
        self.name = name
        self.function_name = str(address["function_name"])
        self.qualifier = str(address.get("qualifier") or "live")
        self.region = str(address["region"])
        self.timeout_s = int(address.get("timeout_ms", 2000)) / 1000
        self.endpoint_url = address.get("endpoint_url")
        self.max_reply = max_reply
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    connect_timeout=self.timeout_s,
                    read_timeout=self.timeout_s,
                    retries={"total_max_attempts": 1},
                )
                self._client = boto3.client(
                    "lambda",
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def send(self, request: TierRequest) -> TierReply:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client().invoke(
                FunctionName=self.function_name,
                Qualifier=self.qualifier,
                Payload=json.dumps(proxy_event(request)).encode(),
            )
            stream = response["Payload"]
            try:
                payload = stream.read(self.max_reply + 1)
            finally:
                # An answer cut at the limit still holds its connection: close it, or the
                # socket outlives the request (a full read has already handed it back).
                stream.close()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise _failure(self.name, f"lambda.invoke: {code}") from exc
        except BotoCoreError as exc:
            raise _failure(self.name, f"lambda.invoke: {type(exc).__name__}") from exc
        if len(payload) > self.max_reply:
            raise _oversize(self.name, self.max_reply)
        if response.get("FunctionError"):
            kind = _error_type(payload)
            raise _failure(self.name, f"function error {kind}")
        return self._reply(payload)

    def _reply(self, payload: bytes) -> TierReply:
        try:
            document = json.loads(payload)
            status = int(document["statusCode"])
            headers = {str(k).lower(): str(v) for k, v in (document.get("headers") or {}).items()}
            body = document.get("body") or ""
            data = (
                base64.b64decode(body, validate=True)
                if document.get("isBase64Encoded")
                else body.encode("utf-8")
            )
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise _failure(self.name, "the tier's answer is not a proxy reply") from None
        return _checked(self.name, status, headers, data)


def _error_type(payload: bytes) -> str:
    try:
        return str(json.loads(payload).get("errorType", "Unhandled"))[:60]
    except (ValueError, AttributeError):
        return "Unhandled"


class IdTokens(Protocol):
    def token(self) -> str: ...


@dataclass
class _Cached:
    value: str = ""
    expires: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, mint: Any) -> str:
        with self.lock:
            if time.time() >= self.expires - _TOKEN_MARGIN_S:
                self.value, self.expires = mint()
            return self.value


def _google_request(timeout_s: float) -> Any:
    import urllib3
    from google.auth.transport.urllib3 import Request

    return Request(urllib3.PoolManager(timeout=timeout_s, retries=False))


def _expiry(token: str) -> float:
    """The `exp` claim of a JWT (unverified: the token is ours to send, not to trust)."""
    try:
        claims = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return time.time() + 600.0


class MetadataIdTokens:
    """ID tokens for `audience` from the metadata server (google-auth `fetch_id_token`)."""

    def __init__(self, audience: str, timeout_s: float) -> None:
        self.audience = audience
        self.timeout_s = timeout_s
        self._cache = _Cached()

    def _mint(self) -> tuple[str, float]:
        from google.oauth2 import id_token

        token = str(id_token.fetch_id_token(_google_request(self.timeout_s), self.audience))
        return token, _expiry(token)

    def token(self) -> str:
        return self._cache.get(self._mint)


class FederatedIdTokens:
    """ID tokens of a service account for `audience`, from AWS credentials through Workload
    Identity Federation (google-auth external-account credentials, then generateIdToken)."""

    def __init__(
        self,
        audience: str,
        service_account: str,
        credential_config: Mapping[str, Any],
        timeout_s: float,
        iam_url: str = IAM_CREDENTIALS_URL,
    ) -> None:
        from google.auth import aws

        self.audience = audience
        self.service_account = service_account
        self.timeout_s = timeout_s
        self.iam_url = iam_url.rstrip("/")
        scopes = ["https://www.googleapis.com/auth/cloud-platform"]
        self.credentials = aws.Credentials.from_info(dict(credential_config), scopes=scopes)
        self._cache = _Cached()

    def _mint(self) -> tuple[str, float]:
        request = _google_request(self.timeout_s)
        self.credentials.refresh(request)
        url = f"{self.iam_url}/v1/projects/-/serviceAccounts/{self.service_account}:generateIdToken"
        body = json.dumps({"audience": self.audience, "includeEmail": True}).encode()
        headers = {
            "Authorization": f"Bearer {self.credentials.token}",
            "Content-Type": "application/json",
        }
        response = request(url=url, method="POST", body=body, headers=headers)
        if response.status != HTTPStatus.OK:
            raise OSError(f"generateIdToken answered {response.status}")
        token = str(json.loads(response.data)["token"])
        return token, _expiry(token)

    def token(self) -> str:
        return self._cache.get(self._mint)


class HttpTierTransport:
    """The v2 request over HTTP(S) to a tier's URL, with an ID token when `tokens` is set."""

    def __init__(self, name: str, url: str, tokens: IdTokens | None, *, timeout_s: float,
                 max_reply: int) -> None:  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"routing tier {name!r}: {url[:100]!r} is not an http(s) URL")
        self.name = name
        self.parts = parts
        self.tokens = tokens
        self.timeout_s = timeout_s
        self.max_reply = max_reply

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self.parts.hostname or "", self.parts.port
        if self.parts.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout_s)
        return http.client.HTTPConnection(host, port, timeout=self.timeout_s)

    def close(self) -> None:
        """Nothing is kept: each request has its own connection."""

    def send(self, request: TierRequest) -> TierReply:
        headers = request.forwarded_headers()
        try:
            if self.tokens is not None:
                headers["authorization"] = f"Bearer {self.tokens.token()}"
        except Exception as exc:  # google-auth raises its own errors, OSError, ValueError
            raise _failure(self.name, f"no ID token ({type(exc).__name__})") from exc
        path = self.parts.path.rstrip("/") + request.path
        connection = self._connection()
        try:
            connection.request(request.method, path, body=request.body, headers=headers)
            response = connection.getresponse()
            length = response.getheader("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_reply:
                raise _failure(
                    self.name, f"its answer is over max_response_bytes ({self.max_reply})"
                )
            body = response.read(self.max_reply + 1)
            if len(body) > self.max_reply:
                raise _failure(
                    self.name, f"its answer is over max_response_bytes ({self.max_reply})"
                )
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            reason = f"{type(exc).__name__} calling {self.parts.hostname}"
            raise _failure(self.name, reason) from exc
        finally:
            connection.close()
        return _checked(self.name, response.status, reply_headers, body)


def transport_for(name: str, address: Mapping[str, Any], *, max_reply: int) -> TierTransport:
    """The transport for one tier's address."""
    kind = address.get("kind")
    if kind not in ("aws-lambda", "cloud-run", "cloud-run-federated", "http"):
        known = "aws-lambda, cloud-run, cloud-run-federated or http"
        raise ConfigError(f"routing tier {name!r}: unknown kind {str(kind)[:40]!r}; use {known}")
    timeout_s = int(address.get("timeout_ms", 2000)) / 1000
    try:
        if kind == "aws-lambda":
            return LambdaTierTransport(name, address, max_reply=max_reply)
        url = str(address["url"])
        if kind == "cloud-run":
            tokens: IdTokens = MetadataIdTokens(url, timeout_s)
        elif kind == "cloud-run-federated":
            tokens = FederatedIdTokens(
                url,
                str(address["service_account"]),
                address["credential_config"],
                timeout_s,
                str(address.get("iam_url") or IAM_CREDENTIALS_URL),
            )
        else:  # http
            return HttpTierTransport(name, url, None, timeout_s=timeout_s, max_reply=max_reply)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"routing tier {name!r}: incomplete address ({exc})") from None
    return HttpTierTransport(name, url, tokens, timeout_s=timeout_s, max_reply=max_reply)


def transports_from_env(
    environ: Mapping[str, str] = os.environ, *, max_reply: int
) -> dict[str, TierTransport]:
    """The transports of the tiers named in ``MODELSTACK_ROUTING_TIERS`` (none when unset)."""
    addresses = tier_addresses(environ)
    return {name: transport_for(name, a, max_reply=max_reply) for name, a in addresses.items()}


class CloudForwarder:
    """``Forwarder.infer``'s contract for tiers reached through a cloud transport: the tier's
    200 answer (body, headers); a 4xx raises TierRefused when `client_errors`, else (like any
    other failure) TierFailure."""

    def __init__(self, transports: Mapping[str, TierTransport], models: Mapping[str, str]) -> None:
        self.transports = dict(transports)
        self.models = dict(models)
        """Tier name -> the model name it serves (the v2 path's)."""

    def __contains__(self, tier: object) -> bool:
        return tier in self.transports

    def close(self) -> None:
        for transport in self.transports.values():
            transport.close()

    def infer(
        self, tier: str, body: bytes, headers: Mapping[str, str], *, client_errors: bool
    ) -> tuple[bytes, dict[str, str]]:
        path = f"/v2/models/{self.models.get(tier, tier)}/infer"
        reply = self.transports[tier].send(TierRequest(path, body, headers))
        if reply.status == HTTPStatus.OK:
            # the names `Forwarder` answers with, which `routing.with_parameters` reads
            kept = {"content-type": "Content-Type", _LENGTH_KEY: HEADER_LENGTH_HEADER}
            return reply.body, {kept[k]: v for k, v in reply.headers.items() if k in kept}
        if 400 <= reply.status < 500 and client_errors:
            raise TierRefused(_error_text(tier, reply.body), HTTPStatus(reply.status))
        raise _failure(tier, f"answered {reply.status}")


def _error_text(tier: str, body: bytes) -> str:
    try:
        message = json.loads(body[:4096]).get("error", "")
    except (ValueError, AttributeError):
        message = ""
    return f"tier {tier!r}: {message}" if message else f"tier {tier!r} refused it"
