"""A local target's event sources, wired as the cloud would wire them.

Lambda flavour, on the SQS/S3 server (moto, `MODELSTACK_EVENTS_ENDPOINT`): each queue source's
queue and dead-letter queue (redrive after `max_receive_count`, the source's visibility
timeout), the buckets marked `create: true` (any other bucket must exist), the results
queues; the containers get the runtime's events configuration and the server's address; and
one event process (`events_process`) polls the queues, watches the buckets and fires the
schedules, invoking the `live` alias through the router.

HTTP flavour, on the Pub/Sub emulator: each queue source's topics and push subscription to
the router (`pubsub.provision_push`), and the containers get `pubsub.events_environment`.

`destroy` stops the event process and deletes the queues that are empty; a queue that still
holds messages, and every bucket, stays, and `stop` says which.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import InfrastructureError, UsageError
from modelstack.events.names import dlq_name, queue_name
from modelstack.events.spec import EventSource, parse_events, visibility_timeout
from modelstack.providers.local import events_process
from modelstack.providers.local.bucket_watcher import DEFAULT_WATCH_S, WATCH_ENV

if TYPE_CHECKING:
    from modelstack.manifest.model import Manifest
    from modelstack.providers.local.target import LocalTarget

__all__ = ["LOCAL_FUNCTION_TIMEOUT_S", "LocalEvents", "events_for"]

LOCAL_FUNCTION_TIMEOUT_S: Final = 30
"""The local Lambda flavour's invocation timeout (the router's), for the default visibility."""
_REGION: Final = "us-east-1"


@dataclass(frozen=True)
class LocalEvents:
    """The event sources of one local target."""

    raw: list[Any]
    sources: tuple[EventSource, ...]
    base: str
    function_name: str
    flavour: str
    endpoint: str
    state_dir: Path

    @classmethod
    def of(
        cls, raw: Any, *, base: str, function_name: str, flavour: str, port: int, state_dir: Path
    ) -> LocalEvents | None:
        """The wiring for a manifest's `events:` list (None when it has none)."""
        sources = parse_events(raw)
        if not sources:
            return None
        return cls(
            list(raw),
            sources,
            base,
            function_name,
            flavour,
            f"http://127.0.0.1:{port}",
            state_dir,
        )

    # --- containers -------------------------------------------------------------------------

    def container_environment(self) -> dict[str, str]:
        """What the runtime in each container needs to handle these sources' events."""
        if self.flavour != "lambda":
            from modelstack.providers.local.pubsub import events_environment

            return events_environment(self._queue_sources(), prefix=self.base)
        config = {"report_errors": True, "sources": [self._runtime_source(s) for s in self.sources]}
        return {
            "MODELSTACK_EVENTS": json.dumps(config, separators=(",", ":"), sort_keys=True),
            "AWS_ENDPOINT_URL": _aws_endpoint(),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": _REGION,
        }

    def _runtime_source(self, source: EventSource) -> dict[str, Any]:
        output = source.output
        entry: dict[str, Any] = {
            "name": source.name,
            "kind": source.kind,
            "output": {"queue": output.queue}
            if output.queue is not None
            else {"bucket": output.bucket, "prefix": output.prefix},
        }
        if source.queue is not None:
            entry["queue"] = queue_name(self.base, source)
        if source.bucket is not None:
            spec = source.bucket
            entry.update(
                bucket=spec.bucket,
                prefix=spec.prefix,
                rows_per_batch=spec.rows_per_batch,
                max_object_bytes=spec.max_object_bytes,
            )
        if source.schedule is not None:
            entry.update(
                bucket=source.schedule.rescore_bucket, prefix=source.schedule.rescore_prefix
            )
        return entry

    # --- resources --------------------------------------------------------------------------

    def provision(self) -> None:
        """Make the queues, the `create: true` buckets and the results queues (Lambda flavour);
        a bucket that neither exists nor is to be created is a clear error, before anything
        starts."""
        if self.flavour != "lambda":
            return  # the push subscriptions need the router: made in `start`
        queues = self._queues()
        try:
            for source in self.sources:
                if source.queue is not None:
                    self._make_queue(queues.sqs, source)
                if source.output.queue is not None:
                    queues.sqs.create_queue(
                        QueueName=source.output.queue, **_fifo(source.output.queue)
                    )
            self._check_buckets(queues.s3)
        except (UsageError, InfrastructureError):
            raise
        except Exception as exc:
            raise InfrastructureError(
                f"the SQS/S3 server at {_aws_endpoint()} refused the event sources' queues "
                f"({type(exc).__name__}: {exc}); is it running? (`scripts/docker-services` "
                f"starts it; {_ENDPOINT_HINT})"
            ) from None

    def _make_queue(self, sqs: Any, source: EventSource) -> None:
        assert source.queue is not None
        fifo = {"FifoQueue": "true"} if source.queue.fifo else {}
        dlq = sqs.create_queue(QueueName=dlq_name(self.base, source), Attributes=fifo)
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])
        url = sqs.create_queue(QueueName=queue_name(self.base, source), Attributes=fifo)["QueueUrl"]
        redrive = {
            "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": source.queue.max_receive_count,
        }
        timeout = visibility_timeout(source.queue, LOCAL_FUNCTION_TIMEOUT_S)
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(timeout)},
        )

    def _check_buckets(self, s3: Any) -> None:
        created = {
            s.bucket.bucket for s in self.sources if s.bucket is not None and s.bucket.create
        }
        for name in sorted(created):
            if not _bucket_exists(s3, name):
                s3.create_bucket(Bucket=name)
        for source in self.sources:
            for name in _buckets_of(source):
                if name not in created and not _bucket_exists(s3, name):
                    raise UsageError(
                        f"event source {source.name!r} uses bucket {name!r}, which does not "
                        f"exist on the SQS/S3 server at {_aws_endpoint()}: set `create: true` "
                        f"under the source's bucket, or create it first (for example "
                        f"`aws --endpoint-url {_aws_endpoint()} s3 mb s3://{name}`)"
                    )

    # --- the event process ------------------------------------------------------------------

    def start(self) -> None:
        """Lambda flavour: start (or reuse) the event process. HTTP flavour: point the
        emulator's push subscriptions at the router."""
        if self.flavour != "lambda":
            from modelstack.providers.local.pubsub import provision_push

            for source in self._queue_sources():
                provision_push(source, self.endpoint, prefix=self.base)
            others = [s.name for s in self.sources if s.queue is None]
            if others:  # no Cloud Storage or Cloud Scheduler stands in on this machine
                print(
                    f"event sources {', '.join(others)} are not delivered on an HTTP-flavour "
                    "local target; a Lambda-flavour one delivers bucket and schedule sources",
                    file=sys.stderr,
                )
            return
        self.provision()  # again: the SQS/S3 server may have restarted since the deploy
        process = events_process.ensure_running(self.state_dir, self._process_config())
        how = "reused" if process.reused else "started"
        print(f"event process {how} (pid {process.pid}); its log: {process.log}", file=sys.stderr)

    def _process_config(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "function_name": self.function_name,
            "aws_endpoint": _aws_endpoint(),
            "region": _REGION,
            "base": self.base,
            "sources": self.raw,
            "seen_dir": str(self.state_dir / "events-seen"),
            "watch_s": _watch_s(),
        }

    def stop(self) -> list[str]:
        """Stop the event process and delete the empty queues; what remains, in sentences."""
        notes: list[str] = []
        if events_process.stop(self.state_dir) is not None:
            notes.append("the event process stopped")
        if self.flavour != "lambda":
            return notes
        try:
            notes.extend(self._delete_empty_queues())
        except Exception as exc:
            notes.append(f"the queues were left as they are ({type(exc).__name__}: {exc})")
        buckets = sorted({b for s in self.sources for b in _buckets_of(s)})
        if buckets:
            notes.append(f"buckets kept with their objects: {', '.join(buckets)}")
        return notes

    def _delete_empty_queues(self) -> list[str]:
        sqs = self._queues().sqs
        names = [
            n
            for s in self._queue_sources()
            for n in (queue_name(self.base, s), dlq_name(self.base, s))
        ]
        names += sorted({s.output.queue for s in self.sources if s.output.queue is not None})
        kept = []
        for name in names:
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except Exception:
                continue  # never made, or deleted already
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            held = sum(
                int(attributes.get(k, 0))
                for k in (
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                )
            )
            if held:
                kept.append(f"{name} ({held} messages)")
            else:
                sqs.delete_queue(QueueUrl=url)
        if not kept:
            return []
        return [f"queues kept because they hold messages: {', '.join(kept)}"]

    def describe(self) -> dict[str, Any]:
        """The event process and each queue source's depth (for `modelstack status`)."""
        pid = events_process.running(self.state_dir)
        stored = _read_pid(self.state_dir / events_process.PID_FILE)
        report: dict[str, Any] = {
            "pid": pid if pid is not None else stored,
            "alive": pid is not None,
            "log": str(self.state_dir / events_process.LOG_FILE),
            "queues": [],
        }
        if self.flavour == "lambda" and self._queue_sources():
            try:
                queues = self._queues()
                for source in self._queue_sources():
                    counts = queues.counts(source)
                    report["queues"].append(
                        {
                            "source": source.name,
                            "depth": counts.depth,
                            "in_flight": counts.in_flight,
                            "dead_lettered": counts.dead_lettered,
                        }
                    )
            except Exception as exc:
                report["queues_error"] = f"{type(exc).__name__}: {exc}"
        return report

    # --- helpers ----------------------------------------------------------------------------

    def _queue_sources(self) -> list[EventSource]:
        return [s for s in self.sources if s.queue is not None]

    def _queues(self) -> Any:
        from modelstack.events.queues import Queues

        return Queues(self.base, local=True, region=_REGION)


_ENDPOINT_HINT: Final = "MODELSTACK_EVENTS_ENDPOINT names another one"


def _aws_endpoint() -> str:
    from modelstack.events.queues import ENDPOINT_ENV, LOCAL_ENDPOINT

    return os.environ.get(ENDPOINT_ENV, LOCAL_ENDPOINT)


def _watch_s() -> float:
    raw = os.environ.get(WATCH_ENV, "")
    if not raw:
        return DEFAULT_WATCH_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= 3600:
        raise UsageError(
            f"{WATCH_ENV}={raw!r}: give the bucket listing interval in seconds, 0.1-3600"
        )
    return value


def _fifo(name: str) -> dict[str, Any]:
    return {"Attributes": {"FifoQueue": "true"}} if name.endswith(".fifo") else {}


def _buckets_of(source: EventSource) -> list[str]:
    names = []
    if source.bucket is not None:
        names.append(source.bucket.bucket)
    if source.schedule is not None:
        names.append(source.schedule.rescore_bucket)
    if source.output.bucket is not None:
        names.append(source.output.bucket)
    return names


def _bucket_exists(s3: Any, name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def events_for(manifest: Manifest, target: LocalTarget, state_dir: Path) -> LocalEvents | None:
    """The wiring of `manifest`'s event sources on the local `target` (None without any)."""
    from modelstack.providers.local.target import function_name
    from modelstack.pulumi.naming import base_name

    return LocalEvents.of(
        manifest.source.data.get("events"),
        base=base_name(manifest, target.name),
        function_name=function_name(manifest.name, target.name),
        flavour=target.flavour,
        port=target.port,
        state_dir=state_dir,
    )
