"""Event sources as the manifest's `events:` entries describe them, for the GCP tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Queue:
    batch_size: int = 1
    max_batching_window_s: int = 0
    max_concurrency: int = 2
    visibility_timeout_s: int = 180
    max_receive_count: int = 5
    ack_deadline_s: int = 60
    fifo: bool = False


@dataclass(frozen=True)
class Bucket:
    bucket: str
    prefix: str = ""
    suffix: str = ".jsonl"
    max_object_bytes: int = 104857600
    rows_per_batch: int = 256
    create: bool = False


@dataclass(frozen=True)
class Schedule:
    cron: str
    rescore: Bucket


@dataclass(frozen=True)
class Output:
    queue: str | None = None
    bucket: str | None = None
    prefix: str = ""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    output: Output
    queue: Queue | None = None
    bucket: Bucket | None = None
    schedule: Schedule | None = None


def queue_source(name: str = "transactions", **queue: int) -> Source:
    return Source(name, "queue", Output(queue="results"), queue=Queue(**queue))  # type: ignore[arg-type]


def bucket_source(name: str = "catalog") -> Source:
    return Source(
        name,
        "bucket",
        Output(bucket="out-bucket", prefix="scored/"),
        bucket=Bucket("my-images", "incoming/"),
    )


def schedule_source(name: str = "nightly") -> Source:
    rescore = Bucket("my-images", "incoming/")
    return Source(
        name,
        "schedule",
        Output(bucket="my-images", prefix="rescored/"),
        schedule=Schedule("0 3 * * *", rescore),
    )
