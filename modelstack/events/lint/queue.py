"""Queue limits: SQS event source mappings on AWS, Pub/Sub subscriptions on GCP."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.events.lint.sources import event_sources
from modelstack.events.spec import VISIBILITY_FACTOR, QueueSpec
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.aws_lambda.lint import lambda_targets
from modelstack.providers.gcp_cloud_run.lint import cloud_run_targets


def _queues(ctx: LintContext) -> Iterator[tuple[int, QueueSpec]]:
    for index, source in event_sources(ctx):
        if source.queue is not None:
            yield index, source.queue


def _has_cloud_run(ctx: LintContext) -> bool:
    return any(True for _ in cloud_run_targets(ctx))


class QueueBatchSize(Rule):
    id = "MS931"
    summary = "A queue batch size must be 1-10000 (1-10 for a FIFO queue)"
    description = (
        "An SQS event source mapping takes batch_size 1-10000 for a standard queue and 1-10 for "
        "a FIFO queue."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, queue in _queues(ctx):
            high = 10 if queue.fifo else 10000
            if not 1 <= queue.batch_size <= high:
                kind = "a FIFO" if queue.fifo else "a standard"
                yield Finding(
                    ("events", index, "queue", "batch_size"),
                    f"batch_size {queue.batch_size} is outside what {kind} queue allows (1-{high})",
                )


class BatchingWindow(Rule):
    id = "MS932"
    summary = "A batch size above 10 needs a batching window of at least 1 s; FIFO takes none"
    description = (
        "SQS event source mappings with batch_size above 10 need "
        "maximum_batching_window_in_seconds of at least 1; FIFO queues do not support a "
        "batching window."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, queue in _queues(ctx):
            where = ("events", index, "queue", "max_batching_window_s")
            if queue.fifo and queue.max_batching_window_s > 0:
                yield Finding(where, "a FIFO queue takes no batching window; set it to 0")
            elif not queue.fifo and queue.batch_size > 10 and queue.max_batching_window_s < 1:
                written = "max_batching_window_s" in _raw_keys(ctx, index)
                yield Finding(
                    where if written else ("events", index, "queue", "batch_size"),
                    f"batch_size {queue.batch_size} (above 10) needs max_batching_window_s of "
                    "at least 1",
                )


def _raw_keys(ctx: LintContext, index: int) -> set[str]:
    from modelstack.events.lint.sources import raw_events

    queue = raw_events(ctx)[index].get("queue", {})
    return set(queue) if isinstance(queue, dict) else set()


class VisibilityTimeout(Rule):
    id = "MS933"
    summary = "A queue's visibility timeout must be at least 6x the function timeout"
    description = (
        "AWS recommends a visibility timeout of six times the function timeout, so that a "
        "batch being retried after throttling is not delivered again while it runs. Leave it "
        "unset for exactly that."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, queue in _queues(ctx):
            if queue.visibility_timeout_s is None:
                continue
            for target in lambda_targets(ctx):
                least = VISIBILITY_FACTOR * target.timeout_s
                if queue.visibility_timeout_s < least:
                    yield Finding(
                        ("events", index, "queue", "visibility_timeout_s"),
                        f"visibility_timeout_s {queue.visibility_timeout_s} is less than 6x the "
                        f"timeout of target {target.name} ({target.timeout_s} s): use at least "
                        f"{least}, or leave it unset",
                    )
                    break


class ReceiveCount(Rule):
    id = "MS934"
    summary = "max_receive_count must be 1-1000 (5-100 with a Cloud Run target)"
    description = (
        "An SQS redrive policy takes maxReceiveCount 1-1000; a Pub/Sub dead-letter policy "
        "takes max_delivery_attempts 5-100."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        gcp = _has_cloud_run(ctx)
        low, high = (5, 100) if gcp else (1, 1000)
        for index, queue in _queues(ctx):
            if not low <= queue.max_receive_count <= high:
                cloud = "Pub/Sub (max_delivery_attempts)" if gcp else "SQS (maxReceiveCount)"
                yield Finding(
                    ("events", index, "queue", "max_receive_count"),
                    f"max_receive_count {queue.max_receive_count} is outside what {cloud} "
                    f"allows ({low}-{high})",
                )


class AckDeadline(Rule):
    id = "MS935"
    summary = "ack_deadline_s must be 10-600"
    description = "A Pub/Sub subscription's acknowledgement deadline is 10 to 600 seconds."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, queue in _queues(ctx):
            if not 10 <= queue.ack_deadline_s <= 600:
                yield Finding(
                    ("events", index, "queue", "ack_deadline_s"),
                    f"ack_deadline_s {queue.ack_deadline_s} is outside what Pub/Sub allows "
                    "(10-600)",
                )
