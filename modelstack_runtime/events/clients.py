"""The cloud clients the event adapters use: boto3's S3 and SQS clients, made once, lazily.

boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3 / _SQS), which is how the local
target points the same code at its SQS/S3-compatible server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.events.outputs import ObjectWriter, QueueWriter

__all__ = ["Clients", "ObjectReader", "default_clients"]


class ObjectReader(Protocol):
    """Reading an object with its size (boto3's S3 client and the GCP clients have it)."""

    def get_object(self, *, Bucket: str, Key: str) -> Any: ...


class ObjectClient(ObjectReader, ObjectWriter, Protocol):
    """Both halves, as one S3 client provides them."""


@dataclass(frozen=True)
class Clients:
    objects: ObjectClient | None = None
    queues: QueueWriter | None = None


_lock = threading.Lock()
_default: Clients | None = None


def default_clients() -> Clients:
    """boto3 clients from the environment (made on first use, then reused)."""
    global _default
    with _lock:
        if _default is None:
            try:
                import boto3
            except ImportError:
                raise ConfigError(
                    "queue and bucket events need boto3 in the image: pip install boto3"
                ) from None
            _default = Clients(objects=boto3.client("s3"), queues=boto3.client("sqs"))
        return _default
