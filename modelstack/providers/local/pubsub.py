"""GCP-shaped queue sources on the local target: topics and push subscriptions in the emulator.

For a queue source, the Pub/Sub emulator (``scripts/pubsub-emulator``) gets what a Cloud Run
target gets from Pulumi: the topic, its dead-letter topic and a push subscription to the local
endpoint's ``/_events/pubsub/<source>`` with the source's ack deadline, ``max_delivery_attempts``
and a retry policy, made with the same google-cloud-pubsub client code that would run against
the cloud. Making them again is a no-op (existing ones are updated to the declared settings).

What the emulator (0.8.x) honours, measured: pushes (with both camelCase and snake_case field
names, and without ``deliveryAttempt``), the dead-letter policy (after
``max_delivery_attempts`` pushes answered non-2xx, the message moves to the dead-letter topic
with ``CloudPubSubDeadLetterSource*`` attributes), and roughly the retry policy (the first
retry after about 1 s, later ones about ``maximum_backoff`` + 1 s apart). It stores but does not
act on the OIDC token (no ``Authorization`` header is sent) and it applies no IAM.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final

from modelstack.errors import InfrastructureError, MissingDependencyError, UsageError
from modelstack.events import EventSource, QueueSpec

__all__ = [
    "DEFAULT_EMULATOR",
    "DEFAULT_PROJECT",
    "PushSubscription",
    "events_environment",
    "provision_push",
]

DEFAULT_EMULATOR: Final = "127.0.0.1:8085"
DEFAULT_PROJECT: Final = "modelstack-local"
MIN_BACKOFF_S: Final = 1
MAX_BACKOFF_S: Final = 2
"""Short local backoffs, so a poison message reaches the dead-letter topic in seconds."""
MIN_DELIVERY_ATTEMPTS: Final = 5
"""Pub/Sub's lower bound for ``max_delivery_attempts``."""


@dataclass(frozen=True)
class PushSubscription:
    """What :func:`provision_push` made: full resource paths and the push URL."""

    topic: str
    dead_letter_topic: str
    subscription: str
    endpoint: str


@contextmanager
def _emulator_env(host: str) -> Iterator[None]:
    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved


def provision_push(
    source: EventSource,
    endpoint: str,
    *,
    prefix: str,
    project: str = DEFAULT_PROJECT,
    emulator: str = DEFAULT_EMULATOR,
) -> PushSubscription:
    """Make (or update) the source's topics and push subscription in the emulator."""
    if source.kind != "queue" or not isinstance(source.queue, QueueSpec):
        raise UsageError(f"event source {source.name!r} is not a queue source")
    try:
        from google.api_core import exceptions
        from google.cloud import pubsub_v1
        from google.protobuf import duration_pb2, field_mask_pb2
    except ImportError:
        raise MissingDependencyError("GCP-shaped events on the local target", "gcp") from None
    queue = source.queue
    push_url = endpoint.rstrip("/") + f"/_events/pubsub/{source.name}"
    with _emulator_env(emulator):
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        try:
            topic = publisher.topic_path(project, f"{prefix}-{source.name}")
            dead_letter = f"{topic}-dlq"
            names = [topic, dead_letter]
            if source.output.queue is not None:  # the results topic the runtime publishes to
                names.append(publisher.topic_path(project, source.output.queue))
            for name in names:
                with suppress(exceptions.AlreadyExists):
                    publisher.create_topic(name=name)
            settings: dict[str, Any] = {
                "push_config": {"push_endpoint": push_url},
                "ack_deadline_seconds": queue.ack_deadline_s,
                "dead_letter_policy": {
                    "dead_letter_topic": dead_letter,
                    "max_delivery_attempts": max(queue.max_receive_count, MIN_DELIVERY_ATTEMPTS),
                },
                "retry_policy": {
                    "minimum_backoff": duration_pb2.Duration(seconds=MIN_BACKOFF_S),
                    "maximum_backoff": duration_pb2.Duration(seconds=MAX_BACKOFF_S),
                },
            }
            subscription = subscriber.subscription_path(project, f"{prefix}-{source.name}-push")
            try:
                subscriber.create_subscription(
                    request={"name": subscription, "topic": topic, **settings}
                )
            except exceptions.AlreadyExists:
                subscriber.update_subscription(
                    request={
                        "subscription": {"name": subscription, "topic": topic, **settings},
                        "update_mask": field_mask_pb2.FieldMask(paths=sorted(settings)),
                    }
                )
        except exceptions.GoogleAPICallError as exc:
            raise InfrastructureError(
                f"the Pub/Sub emulator on {emulator} refused event source {source.name!r}: "
                f"{exc.message}"
            ) from None
        finally:
            subscriber.close()
            publisher.transport.close()
    return PushSubscription(topic, dead_letter, subscription, push_url)


def events_environment(
    sources: Sequence[EventSource],
    *,
    prefix: str,
    project: str = DEFAULT_PROJECT,
    emulator: str = DEFAULT_EMULATOR,
) -> dict[str, str]:
    """The container environment that lets the runtime answer these sources' pushes."""
    entries = []
    for source in sources:
        if source.kind != "queue":
            continue
        output = source.output
        if output.queue is None:  # no Cloud Storage stands in locally: never reach the cloud
            raise UsageError(
                f"event source {source.name!r}: on the local target a GCP-shaped queue source "
                "writes its results to a results topic; use output: {queue: NAME}"
            )
        target = {"queue_url": f"projects/{project}/topics/{output.queue}"}
        entries.append(
            {
                "name": source.name,
                "kind": "queue",
                "queue": f"projects/{project}/topics/{prefix}-{source.name}",
                "output": target,
            }
        )
    return {
        "MODELSTACK_EVENTS": json.dumps({"sources": entries}, separators=(",", ":")),
        "PUBSUB_EMULATOR_HOST": emulator,
    }
