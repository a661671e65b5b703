"""GCP-shaped queue events on the local target: the Pub/Sub emulator pushes to the container.

Real parts only: `modelstack up` runs the model's HTTP image on the Docker engine and points the
emulator (`scripts/pubsub-emulator`, started by `scripts/docker-services`) at it, which pushes, and
google-cloud-pubsub publishes and pulls. A poison message ends in the dead-letter topic after
`max_delivery_attempts` pushes; each good message is scored once onto the results topic.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bundles import write_bundle
from google.cloud import pubsub_v1

from modelstack.cli import main
from modelstack.events import EventSource, parse_events
from modelstack.image.containers import free_port
from modelstack.providers.local.pubsub import DEFAULT_EMULATOR, DEFAULT_PROJECT, provision_push

BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
WAIT_S = 60.0
GOOD = [[3.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.5, 2.0, 0.0]]
LABELS = [0, 1, 2]


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", DEFAULT_EMULATOR)
    return DEFAULT_EMULATOR


@pytest.fixture
def deployed(tmp_path: Path, emulator: str) -> Iterator[tuple[int, str, EventSource]]:
    """The tiny model deployed locally by `up`, which wires its `transactions` queue source:
    the topics and the push subscription in the emulator, the events environment in the
    container."""
    name = f"mstest{uuid.uuid4().hex[:8]}"
    prefix = f"{name}-local"  # the target's base name: `<model>-<target>`
    events = [
        {
            "name": "transactions",
            "queue": {"batch_size": 1, "max_receive_count": 5, "ack_deadline_s": 10},
            "output": {"queue": f"{prefix}-results"},
        }
    ]
    (source,) = parse_events(events)
    port = free_port()
    manifest = write_bundle(tmp_path / "tiny", port=port, name=name)
    manifest.write_text(manifest.read_text() + yaml.safe_dump({"events": events}))
    try:
        assert main(["up", str(manifest), "--target", "local", *BUILD_FLAGS]) == 0
        yield port, prefix, source
    finally:
        main(["destroy", str(manifest), "--target", "local", "--yes"])


def _pull_all(subscriber: Any, subscription: str, want: int) -> list[Any]:
    """Pull (and ack) until `want` messages came or WAIT_S passed."""
    got: list[Any] = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < want and time.monotonic() < deadline:
        reply = subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
        if reply.received_messages:
            subscriber.acknowledge(
                subscription=subscription, ack_ids=[m.ack_id for m in reply.received_messages]
            )
        got.extend(m.message for m in reply.received_messages)
        time.sleep(0.5)
    return got


def test_push_scores_good_messages_once_and_dead_letters_poison(
    deployed: tuple[int, str, EventSource],
) -> None:
    port, prefix, source = deployed
    made = provision_push(source, f"http://127.0.0.1:{port}", prefix=prefix)  # `up` made it
    assert made.topic == f"projects/{DEFAULT_PROJECT}/topics/{prefix}-transactions"
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    results_sub = subscriber.subscription_path(DEFAULT_PROJECT, f"{prefix}-results-pull")
    dlq_sub = subscriber.subscription_path(DEFAULT_PROJECT, f"{prefix}-dlq-pull")
    results_topic = publisher.topic_path(DEFAULT_PROJECT, f"{prefix}-results")
    subscriber.create_subscription(name=results_sub, topic=results_topic)
    subscriber.create_subscription(name=dlq_sub, topic=made.dead_letter_topic)
    try:
        stored = subscriber.get_subscription(subscription=made.subscription)
        assert stored.push_config.push_endpoint == made.endpoint
        assert stored.dead_letter_policy.max_delivery_attempts == 5
        assert stored.ack_deadline_seconds == 10

        good_ids = [
            publisher.publish(made.topic, json.dumps({"features": row}).encode()).result()
            for row in GOOD
        ]
        poison_id = publisher.publish(made.topic, b"not json", kind="poison").result()

        results = _pull_all(subscriber, results_sub, len(GOOD))
        dead = _pull_all(subscriber, dlq_sub, 1)
        time.sleep(2)  # a second result for any message would have arrived by now
        late = subscriber.pull(subscription=results_sub, max_messages=10, timeout=5)
        results += [m.message for m in late.received_messages]
    finally:
        subscriber.delete_subscription(subscription=results_sub)
        subscriber.delete_subscription(subscription=dlq_sub)
        subscriber.close()

    by_id = {m.attributes["source_message_id"]: json.loads(m.data) for m in results}
    assert sorted(m.attributes["source_message_id"] for m in results) == sorted(good_ids)
    for message_id, label in zip(good_ids, LABELS, strict=True):
        outputs = {o["name"]: o["data"] for o in by_id[message_id]["outputs"]}
        assert outputs["label"] == [label]
        assert by_id[message_id]["id"] == message_id
    assert poison_id not in by_id
    assert [(m.data, m.attributes["kind"]) for m in dead] == [(b"not json", "poison")]
    assert dead[0].attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
