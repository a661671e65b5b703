"""The container environment the local target gives GCP-shaped queue sources."""

from __future__ import annotations

import json
import re

import pytest


def test_local_environment_refuses_bucket_outputs_it_could_only_reach_in_the_cloud() -> None:
    from modelstack.errors import UsageError
    from modelstack.events import parse_events
    from modelstack.providers.local.pubsub import events_environment

    (source,) = parse_events(
        [{"name": "tx", "queue": {"batch_size": 1}, "output": {"bucket": "b", "prefix": "p/"}}]
    )
    with pytest.raises(UsageError, match=re.escape("use output: {queue: NAME}")):
        events_environment([source], prefix="t")


def test_local_environment_names_the_source_topic_and_results_topic() -> None:
    from modelstack.events import parse_events
    from modelstack.providers.local.pubsub import events_environment

    (source,) = parse_events(
        [{"name": "tx", "queue": {"batch_size": 1}, "output": {"queue": "results"}}]
    )
    env = events_environment([source], prefix="t", project="p", emulator="127.0.0.1:9")
    assert env["PUBSUB_EMULATOR_HOST"] == "127.0.0.1:9"
    assert json.loads(env["MODELSTACK_EVENTS"]) == {
        "sources": [
            {
                "name": "tx",
                "kind": "queue",
                "queue": "projects/p/topics/t-tx",
                "output": {"queue_url": "projects/p/topics/results"},
            }
        ]
    }
