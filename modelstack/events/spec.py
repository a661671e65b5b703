"""The manifest's `events:` section as typed, frozen objects (one shape for every cloud).

Each entry is one event source: a `queue` (SQS / Pub/Sub), a `bucket` prefix (S3 / Cloud
Storage) or a `schedule` that rescores a bucket prefix; every source names where its results
go (`output`). `parse_events` reads the list; the schema checks types and bounds first, and
parse_events still refuses anything it cannot type with a ManifestError naming the entry.
Platform limits that depend on the cloud or on other fields are lint rules (MS930-MS959).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from modelstack.errors import ManifestError

__all__ = [
    "BUCKET_SUFFIXES",
    "DEFAULT_MAX_OBJECT_BYTES",
    "DEFAULT_ROWS_PER_BATCH",
    "NAME_PATTERN",
    "VISIBILITY_FACTOR",
    "BucketSpec",
    "EventKind",
    "EventSource",
    "OutputSpec",
    "QueueSpec",
    "ScheduleSpec",
    "parse_events",
    "visibility_timeout",
]

EventKind = Literal["queue", "bucket", "schedule"]
KINDS: Final[tuple[EventKind, ...]] = ("queue", "bucket", "schedule")
NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
BUCKET_SUFFIXES: Final = (".npz", ".jsonl", ".csv")
DEFAULT_MAX_OBJECT_BYTES: Final = 100 * 1024 * 1024
DEFAULT_ROWS_PER_BATCH: Final = 256
VISIBILITY_FACTOR: Final = 6
"""AWS asks for a queue visibility timeout of at least six times the function timeout."""


@dataclass(frozen=True)
class QueueSpec:
    batch_size: int = 10
    max_batching_window_s: int = 0
    max_concurrency: int = 2
    visibility_timeout_s: int | None = None
    """None: VISIBILITY_FACTOR times the function timeout (see `visibility_timeout`)."""
    max_receive_count: int = 3
    ack_deadline_s: int = 60
    fifo: bool = False


@dataclass(frozen=True)
class BucketSpec:
    bucket: str
    prefix: str = ""
    suffix: str = ".jsonl"
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    rows_per_batch: int = DEFAULT_ROWS_PER_BATCH
    create: bool = False


@dataclass(frozen=True)
class ScheduleSpec:
    cron: str
    rescore_bucket: str
    rescore_prefix: str = ""


@dataclass(frozen=True)
class OutputSpec:
    """Results go to a queue (`queue`) or under a bucket prefix (`bucket` + `prefix`)."""

    queue: str | None = None
    bucket: str | None = None
    prefix: str = ""

    @property
    def kind(self) -> Literal["queue", "bucket"]:
        return "queue" if self.queue is not None else "bucket"


@dataclass(frozen=True)
class EventSource:
    name: str
    kind: EventKind
    queue: QueueSpec | None
    bucket: BucketSpec | None
    schedule: ScheduleSpec | None
    output: OutputSpec


def visibility_timeout(spec: QueueSpec, function_timeout_s: int) -> int:
    """The queue's visibility timeout: the declared one, else six times the function's."""
    if spec.visibility_timeout_s is not None:
        return spec.visibility_timeout_s
    return VISIBILITY_FACTOR * function_timeout_s


def parse_events(raw: Any) -> tuple[EventSource, ...]:
    """The typed `events:` list; raises ManifestError naming the entry and key at fault."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ManifestError(f"events must be a list of event sources, not {_kind_of(raw)}")
    return tuple(_source(index, entry) for index, entry in enumerate(raw))


def _source(index: int, entry: Any) -> EventSource:
    where = f"events[{index}]"
    mapping = _mapping(entry, where)
    name = _string(mapping.get("name"), f"{where}.name")
    if not NAME_PATTERN.match(name):
        raise ManifestError(
            f"{where}.name {name!r} is not valid: use 1-40 lower-case letters, digits and "
            "hyphens, starting with a letter"
        )
    kinds = [kind for kind in KINDS if kind in mapping]
    if len(kinds) != 1:
        raise ManifestError(f"{where} needs exactly one of 'queue', 'bucket' or 'schedule'")
    kind = kinds[0]
    body = _mapping(mapping[kind], f"{where}.{kind}")
    here = f"{where}.{kind}"
    return EventSource(
        name=name,
        kind=kind,
        queue=_queue(body, here) if kind == "queue" else None,
        bucket=_bucket(body, here) if kind == "bucket" else None,
        schedule=_schedule(body, here) if kind == "schedule" else None,
        output=_output(mapping.get("output"), f"{where}.output"),
    )


def _queue(d: Mapping[str, Any], where: str) -> QueueSpec:
    visibility = d.get("visibility_timeout_s")
    return QueueSpec(
        batch_size=_int(d.get("batch_size", 10), f"{where}.batch_size"),
        max_batching_window_s=_int(
            d.get("max_batching_window_s", 0), f"{where}.max_batching_window_s"
        ),
        max_concurrency=_int(d.get("max_concurrency", 2), f"{where}.max_concurrency"),
        visibility_timeout_s=(
            None if visibility is None else _int(visibility, f"{where}.visibility_timeout_s")
        ),
        max_receive_count=_int(d.get("max_receive_count", 3), f"{where}.max_receive_count"),
        ack_deadline_s=_int(d.get("ack_deadline_s", 60), f"{where}.ack_deadline_s"),
        fifo=_bool(d.get("fifo", False), f"{where}.fifo"),
    )


def _bucket(d: Mapping[str, Any], where: str) -> BucketSpec:
    suffix = _string(d.get("suffix", ".jsonl"), f"{where}.suffix")
    if suffix not in BUCKET_SUFFIXES:
        raise ManifestError(
            f"{where}.suffix {suffix!r} has no reader; use one of {', '.join(BUCKET_SUFFIXES)}"
        )
    return BucketSpec(
        bucket=_string(d.get("bucket"), f"{where}.bucket"),
        prefix=_string(d.get("prefix", ""), f"{where}.prefix", empty=True),
        suffix=suffix,
        max_object_bytes=_int(
            d.get("max_object_bytes", DEFAULT_MAX_OBJECT_BYTES), f"{where}.max_object_bytes"
        ),
        rows_per_batch=_int(
            d.get("rows_per_batch", DEFAULT_ROWS_PER_BATCH), f"{where}.rows_per_batch"
        ),
        create=_bool(d.get("create", False), f"{where}.create"),
    )


def _schedule(d: Mapping[str, Any], where: str) -> ScheduleSpec:
    rescore = _mapping(d.get("rescore"), f"{where}.rescore")
    return ScheduleSpec(
        cron=_string(d.get("cron"), f"{where}.cron"),
        rescore_bucket=_string(rescore.get("bucket"), f"{where}.rescore.bucket"),
        rescore_prefix=_string(rescore.get("prefix", ""), f"{where}.rescore.prefix", empty=True),
    )


def _output(raw: Any, where: str) -> OutputSpec:
    d = _mapping(raw, where)
    if ("queue" in d) == ("bucket" in d):
        raise ManifestError(f"{where} needs exactly one of 'queue' or 'bucket' (with 'prefix')")
    if "queue" in d:
        if "prefix" in d:
            raise ManifestError(f"{where}.prefix only applies to a bucket output; remove it")
        return OutputSpec(queue=_string(d["queue"], f"{where}.queue"))
    return OutputSpec(
        bucket=_string(d["bucket"], f"{where}.bucket"),
        prefix=_string(d.get("prefix", ""), f"{where}.prefix", empty=True),
    )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ManifestError(f"{where} must be a mapping, not {_kind_of(value)}")
    return value


def _string(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise ManifestError(f"{where} must be a non-empty string, not {_kind_of(value)}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{where} must be an integer, not {_kind_of(value)}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ManifestError(f"{where} must be true or false, not {_kind_of(value)}")
    return value


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    return f"a {type(value).__name__}"
