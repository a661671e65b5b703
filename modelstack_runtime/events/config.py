"""The runtime's events configuration: which source an event came from, where results go.

`modelstack up` writes it (JSON) into the function's environment as MODELSTACK_EVENTS:

    {"sources": [
      {"name": "transactions", "kind": "queue", "queue": "arn:aws:sqs:...:transactions",
       "output": {"queue_url": "https://sqs.../results"}},
      {"name": "catalog", "kind": "bucket", "bucket": "my-images", "prefix": "incoming/",
       "rows_per_batch": 256, "max_object_bytes": 104857600,
       "output": {"bucket": "my-images", "prefix": "scored/"}}]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.events.outputs import OutputTarget

__all__ = ["EVENTS_CONFIG_ENV", "EventsConfig", "SourceConfig"]

EVENTS_CONFIG_ENV: Final = "MODELSTACK_EVENTS"
MAX_CONFIG_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    output: OutputTarget
    queue: str = ""
    """A queue source: its ARN (or name, or URL): what a record's eventSourceARN names."""
    bucket: str = ""
    prefix: str = ""
    rows_per_batch: int = 256
    max_object_bytes: int = 100 * 1024 * 1024

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceConfig:
        try:
            return cls(
                name=str(d["name"]),
                kind=str(d["kind"]),
                output=OutputTarget.from_dict(d["output"]),
                queue=str(d.get("queue", "")),
                bucket=str(d.get("bucket", "")),
                prefix=str(d.get("prefix", "")),
                rows_per_batch=int(d.get("rows_per_batch", 256)),
                max_object_bytes=int(d.get("max_object_bytes", 100 * 1024 * 1024)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{EVENTS_CONFIG_ENV}: a source is invalid ({exc!r})") from None


@dataclass(frozen=True)
class EventsConfig:
    sources: tuple[SourceConfig, ...] = ()
    report_errors: bool = False
    """Add `errors` ({message id: error}) to an SQS batch answer. The local target's poller
    reads it to put the error on a dead-lettered message; AWS's answer format has no room
    for it, so deployed functions leave it off."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EventsConfig:
        sources = d.get("sources", []) if isinstance(d, Mapping) else None
        if not isinstance(sources, list) or not all(isinstance(s, Mapping) for s in sources):
            raise ConfigError(f"{EVENTS_CONFIG_ENV} must be {{'sources': [{{...}}, ...]}}")
        report = d.get("report_errors", False)
        return cls(tuple(SourceConfig.from_dict(s) for s in sources), report_errors=report is True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EventsConfig:
        raw = (os.environ if environ is None else environ).get(EVENTS_CONFIG_ENV, "")
        if not raw:
            return cls()
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{EVENTS_CONFIG_ENV} is above {MAX_CONFIG_BYTES} bytes")
        try:
            return cls.from_dict(json.loads(raw))
        except ValueError as exc:
            raise ConfigError(f"{EVENTS_CONFIG_ENV} is not JSON: {exc}") from None

    def for_queue(self, arn: str) -> SourceConfig | None:
        """The queue source a record's eventSourceARN names (matched by ARN or queue name)."""
        name = arn.rsplit(":", 1)[-1]
        for source in self.sources:
            if (
                source.kind == "queue"
                and source.queue.rsplit(":", 1)[-1].rsplit("/", 1)[-1] == name
            ):
                return source
        return None

    def named(self, name: str) -> SourceConfig | None:
        return next((source for source in self.sources if source.name == name), None)

    def for_object(self, bucket: str, key: str) -> SourceConfig | None:
        """The bucket source whose bucket and prefix hold `key`."""
        for source in self.sources:
            if (
                source.kind == "bucket"
                and source.bucket == bucket
                and key.startswith(source.prefix)
            ):
                return source
        return None
