"""The clients GCP-shaped events write results through, with the standard library only.

* Results topics: Pub/Sub's REST ``topics.publish``. With ``PUBSUB_EMULATOR_HOST`` set (as
  google-cloud-pubsub reads it) it goes to the emulator on that address, without credentials;
  otherwise to Pub/Sub with the service account's token from the metadata server.
* Objects: Cloud Storage's JSON API (``STORAGE_EMULATOR_HOST``, as google-cloud-storage reads
  it, points it elsewhere), reads bounded by the caller's limit, listings in bounded pages
  (a schedule's rescore), results created only where none exists (``ifGenerationMatch=0``,
  so ``roles/storage.objectCreator`` suffices). With
  ``MODELSTACK_EVENT_OBJECT_DIR`` set, a folder stands for the buckets instead
  (``<dir>/<bucket>/<key>``, each object created once): how the local target keeps them.

Both satisfy the writer protocols of :mod:`modelstack_runtime.events.outputs`.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Protocol
from urllib.parse import quote

from modelstack_runtime.errors import ConfigError

__all__ = [
    "EMULATOR_ENV",
    "OBJECT_DIR_ENV",
    "STORAGE_EMULATOR_ENV",
    "DirectoryObjects",
    "GcpClients",
    "GcsObjects",
    "PubSubTopics",
    "gcp_clients",
]

EMULATOR_ENV: Final = "PUBSUB_EMULATOR_HOST"
OBJECT_DIR_ENV: Final = "MODELSTACK_EVENT_OBJECT_DIR"
_PUBSUB: Final = "https://pubsub.googleapis.com"
_TOKEN_URL: Final = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
)
_STORAGE: Final = "https://storage.googleapis.com"
STORAGE_EMULATOR_ENV: Final = "STORAGE_EMULATOR_HOST"
_MAX_REPLY_BYTES: Final = 64 * 1024
_MAX_LIST_BYTES: Final = 4 * 1024 * 1024
"""A page of 1000 names of at most 1024 bytes each, escaped, with room to spare."""
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TIMEOUT_S: Final = 10.0


class ResultObjects(Protocol):
    """Writing a result object, and asking whether one is there."""

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> Any: ...

    def get_object(self, *, Bucket: str, Key: str) -> Any: ...

    def exists(self, *, bucket: str, key: str) -> bool: ...


@dataclass(frozen=True)
class GcpClients:
    objects: ResultObjects | None = None
    topics: PubSubTopics | None = None


class DirectoryObjects:
    """Buckets as folders: ``<root>/<bucket>/<key>``, each key created once (a hard link)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, bucket: str, key: str) -> str:
        path = os.path.normpath(os.path.join(self.root, bucket, key))
        if not path.startswith(os.path.join(os.path.normpath(self.root), bucket) + os.sep):
            raise ConfigError(f"object key {key!r} leaves bucket {bucket!r}")
        return path

    def exists(self, *, bucket: str, key: str) -> bool:
        return os.path.exists(self._path(bucket, key))

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        """The object as boto3 gives it: ``ContentLength`` and a ``Body`` to read."""
        path = self._path(Bucket, Key)
        return {"ContentLength": os.path.getsize(path), "Body": open(path, "rb")}

    def list_objects_v2(
        self, *, Bucket: str, Prefix: str, MaxKeys: int = 1000, ContinuationToken: str = ""
    ) -> dict[str, Any]:
        """A page of the keys under ``Prefix`` in name order, as boto3 gives it."""
        top = os.path.join(self.root, Bucket)
        keys: list[str] = []
        for folder, dirs, files in os.walk(top):
            dirs.sort()
            for name in files:
                key = os.path.relpath(os.path.join(folder, name), top).replace(os.sep, "/")
                if key.startswith(Prefix) and not name.startswith(".partial-"):
                    keys.append(key)
        keys.sort()
        start = int(ContinuationToken or 0)
        page = keys[start : start + MaxKeys]
        more = start + MaxKeys < len(keys)
        answer: dict[str, Any] = {"Contents": [{"Key": k} for k in page], "IsTruncated": more}
        if more:
            answer["NextContinuationToken"] = str(start + MaxKeys)
        return answer

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> bool:
        """Create the object; False (nothing written) when it is already there."""
        path = self._path(Bucket, Key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Body)
            try:
                os.link(tmp, path)  # atomic, and refuses an existing name
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)


class GcsObjects:
    """Cloud Storage objects over the JSON API, with the metadata server's token."""

    def __init__(self, host: str | None = None) -> None:
        self.base = f"http://{host}" if host else _STORAGE
        self.authorised = not host

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {_token()}"} if self.authorised else {}

    def _object_url(self, bucket: str, key: str) -> str:
        return f"{self.base}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(key, safe='')}"

    def exists(self, *, bucket: str, key: str) -> bool:
        status, _ = _request(self._object_url(bucket, key), None, self._headers(), _MAX_REPLY_BYTES)
        return status == HTTPStatus.OK

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        """``ContentLength`` from the metadata, then a ``Body`` that reads at most n bytes."""
        url = self._object_url(Bucket, Key)
        status, meta = _request(url, None, self._headers(), _MAX_REPLY_BYTES)
        if status != HTTPStatus.OK:
            raise ConfigError(f"gs://{Bucket}/{Key} answered {status}")
        size = int(json.loads(meta).get("size", 0))
        return {"ContentLength": size, "Body": _LazyBody(f"{url}?alt=media", self._headers())}

    def list_objects_v2(
        self, *, Bucket: str, Prefix: str, MaxKeys: int = 1000, ContinuationToken: str = ""
    ) -> dict[str, Any]:
        """A page of ``objects.list`` (names only), in the shape boto3 gives S3's."""
        query = f"prefix={quote(Prefix, safe='')}&maxResults={int(MaxKeys)}"
        query += "&fields=items(name),nextPageToken"
        if ContinuationToken:
            query += f"&pageToken={quote(ContinuationToken, safe='')}"
        url = f"{self.base}/storage/v1/b/{quote(Bucket, safe='')}/o?{query}"
        status, reply = _request(url, None, self._headers(), _MAX_LIST_BYTES + 1)
        if status != HTTPStatus.OK:
            raise ConfigError(f"listing gs://{Bucket}/{Prefix} answered {status}")
        if len(reply) > _MAX_LIST_BYTES:
            raise ConfigError(f"listing gs://{Bucket}/{Prefix} answered over {_MAX_LIST_BYTES} B")
        try:
            page = json.loads(reply)
            names = [str(item["name"]) for item in page.get("items", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfigError(f"listing gs://{Bucket}/{Prefix} did not answer a page") from None
        token = page.get("nextPageToken")
        answer: dict[str, Any] = {"Contents": [{"Key": n} for n in names], "IsTruncated": False}
        if isinstance(token, str) and token:
            answer.update(IsTruncated=True, NextContinuationToken=token)
        return answer

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> bool:
        """Create the object; False (nothing written) when it already exists."""
        url = (
            f"{self.base}/upload/storage/v1/b/{quote(Bucket, safe='')}/o?uploadType=media"
            f"&name={quote(Key, safe='')}&ifGenerationMatch=0"
        )
        headers = {**self._headers(), "Content-Type": ContentType}
        status, reply = _request(url, Body, headers, _MAX_REPLY_BYTES)
        if status == HTTPStatus.PRECONDITION_FAILED:
            return False
        if status != HTTPStatus.OK:
            raise ConfigError(f"writing gs://{Bucket}/{Key} answered {status}: {reply[:200]!r}")
        return True


class _LazyBody:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers

    def read(self, limit: int) -> bytes:
        status, data = _request(self.url, None, self.headers, limit)
        if status != HTTPStatus.OK:
            raise ConfigError(f"{self.url} answered {status}")
        return data

    def close(self) -> None:
        """Nothing stays open between reads."""


class PubSubTopics:
    """Publishes to a topic (``projects/P/topics/T``) over Pub/Sub's REST API."""

    def __init__(self, emulator_host: str | None = None) -> None:
        self.emulator_host = emulator_host

    def get_queue_url(self, *, QueueName: str) -> Any:
        """Topics are addressed by their full path, never looked up by name."""
        raise ConfigError(
            f"results topic {QueueName!r} must be given as projects/PROJECT/topics/{QueueName}"
            " (the output's queue_url)"
        )

    def send_message(self, **kwargs: Any) -> Any:
        """Publish one message (SQS's ``send_message`` keywords); returns its message id."""
        topic = str(kwargs["QueueUrl"])
        body = str(kwargs["MessageBody"])
        raw: Mapping[str, Mapping[str, str]] = kwargs.get("MessageAttributes") or {}
        attributes = {k: v["StringValue"] for k, v in raw.items()}
        payload = {
            "messages": [
                {"data": base64.b64encode(body.encode()).decode(), "attributes": attributes}
            ]
        }
        base = f"http://{self.emulator_host}" if self.emulator_host else _PUBSUB
        headers = {"Content-Type": "application/json"}
        if not self.emulator_host:
            headers["Authorization"] = f"Bearer {_token()}"
        reply = _call(f"{base}/v1/{topic}:publish", json.dumps(payload).encode(), headers)
        ids = reply.get("messageIds") if isinstance(reply, dict) else None
        if not isinstance(ids, list) or len(ids) != 1:
            raise ConfigError(f"publishing to {topic} answered {reply!r}")
        return str(ids[0])


def _token() -> str:
    reply = _call(_TOKEN_URL, None, {"Metadata-Flavor": "Google"})
    token = reply.get("access_token") if isinstance(reply, dict) else None
    if not isinstance(token, str):
        raise ConfigError("the metadata server gave no access token")
    return token


def _request(
    url: str, body: bytes | None, headers: dict[str, str], limit: int
) -> tuple[int, bytes]:
    """The status and at most ``limit`` bytes of the reply (4xx/5xx answered, not raised)."""
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with _OPENER.open(request, timeout=_TIMEOUT_S) as response:
            return response.status, response.read(limit)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(_MAX_REPLY_BYTES)
    except OSError as exc:
        raise ConfigError(f"{url}: {exc}") from None


def _call(url: str, body: bytes | None, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            data = response.read(_MAX_REPLY_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{url}: {exc}") from None
    if len(data) > _MAX_REPLY_BYTES:
        raise ConfigError(f"{url} answered more than {_MAX_REPLY_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError:
        raise ConfigError(f"{url} did not answer JSON") from None


def gcp_clients(environ: Mapping[str, str] | None = None) -> GcpClients:
    """The clients the environment calls for (see the module docstring)."""
    env = os.environ if environ is None else environ
    folder = env.get(OBJECT_DIR_ENV)
    return GcpClients(
        objects=DirectoryObjects(folder) if folder else GcsObjects(env.get(STORAGE_EMULATOR_ENV)),
        topics=PubSubTopics(env.get(EMULATOR_ENV) or None),
    )
