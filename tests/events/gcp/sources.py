"""Event sources parsed from `events:` entries exactly as a manifest writes them."""

from __future__ import annotations

from typing import Any

from modelstack.events import EventSource, parse_events


def _one(entry: dict[str, Any]) -> EventSource:
    (source,) = parse_events([entry])
    return source


def queue_source(name: str = "transactions", **queue: int) -> EventSource:
    return _one({"name": name, "queue": {"batch_size": 1, **queue}, "output": {"queue": "results"}})


def bucket_source(name: str = "catalog") -> EventSource:
    return _one(
        {
            "name": name,
            "bucket": {"bucket": "my-images", "prefix": "incoming/", "suffix": ".jsonl"},
            "output": {"bucket": "out-bucket", "prefix": "scored/"},
        }
    )


def schedule_source(name: str = "nightly") -> EventSource:
    return _one(
        {
            "name": name,
            "schedule": {
                "cron": "0 3 * * *",
                "rescore": {"bucket": "my-images", "prefix": "incoming/"},
            },
            "output": {"bucket": "my-images", "prefix": "rescored/"},
        }
    )
